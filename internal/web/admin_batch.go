package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
	"github.com/storefront/storefront/internal/staff"
)

// batchesShown is how many of the newest batches the order list shows.
const batchesShown = 5

// adminChargeBatch is "Charge all placed orders" (all=placed) or "Charge
// selected" (order, one field per order picked) on the order list. Without
// confirm=yes it shows a confirmation naming the count and the total; with
// it, the batch starts (its jobs charge the orders) and the list shows its
// progress. The confirmation carries the count and total it named
// (expect): if the orders changed since, it is shown again, anew.
func (s *Server) adminChargeBatch(w http.ResponseWriter, r *http.Request) error {
	sel, err := shop.ParseBatchSelection(r.PostFormValue("all"), r.PostFormValue("through"), r.PostForm["order"])
	if err != nil {
		return s.ordersError(w, r, err)
	}
	if !confirmed(r) {
		p, err := s.shop.PreviewBatch(r.Context(), sel)
		if err != nil {
			return s.ordersError(w, r, err)
		}
		return s.renderBatchConfirm(w, r, p, "")
	}
	actor, _ := staff.ActorFrom(r.Context())
	b, err := s.shop.StartBatch(r.Context(), actor, sel, r.PostFormValue("expect"), r.PostFormValue("key"))
	var changed *shop.ErrBatchChanged
	if errors.As(err, &changed) {
		return s.renderBatchConfirm(w, r, changed.Now, "The placed orders changed since that confirmation; nothing was charged. Check the count and total again.")
	}
	if err != nil {
		return s.ordersError(w, r, err)
	}
	return s.done(w, r, "/admin/orders?batch="+strconv.FormatInt(b.ID, 10),
		said(fmt.Sprintf("Batch #%d started: %d %s, %s, are being charged in the background; the progress is below.", b.ID, b.Orders, orders(b.Orders), b.Total())))
}

func orders(n int) string {
	if n == 1 {
		return "order"
	}
	return "orders"
}

// renderBatchConfirm asks staff to confirm a batch, naming how many orders
// and what they come to.
func (s *Server) renderBatchConfirm(w http.ResponseWriter, r *http.Request, p shop.BatchPreview, notice string) error {
	fields := map[string]string{"expect": p.Fingerprint(), "key": billing.NewIdempotencyKey()}
	what := "the selected placed " + orders(p.Count)
	if p.Selection.AllPlaced {
		fields["all"], fields["through"] = string(shop.Placed), strconv.FormatInt(p.Selection.Through, 10)
		what = "every placed order"
	} else {
		ids := make([]string, len(p.Selection.OrderIDs))
		for i, id := range p.Selection.OrderIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		fields["order"] = strings.Join(ids, ",")
	}
	count := strconv.Itoa(p.Count) + " " + orders(p.Count)
	return s.askToConfirm(w, r, confirmPage{
		Title:     "Charge " + count,
		Question:  "Charge " + what + ": " + count + ", " + p.Total() + " in all, each to the card saved with it?",
		Notice:    notice,
		Note:      "They are charged in the background, one by one; the order list shows the progress. A declined card gets the usual email and payment link.",
		Action:    "/admin/orders/charge",
		Button:    "Charge " + count + ", " + p.Total(),
		Back:      "/admin/orders",
		BackLabel: "Back to the orders",
		Fields:    fields,
	})
}

// ordersError shows the order list again with a refusal; other errors are error pages.
func (s *Server) ordersError(w http.ResponseWriter, r *http.Request, err error) error {
	var invalid *billing.InvalidError
	if !errors.As(err, &invalid) {
		return err
	}
	return s.renderOrders(w, r, http.StatusBadRequest, shop.OrderQuery{Limit: shop.OrderPageSize}, 0, invalid.Message)
}
