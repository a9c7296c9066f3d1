package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
	"github.com/storefront/storefront/internal/staff"
)

type ordersPage struct {
	Orders []shop.Order
	Totals []shop.StatusTotal
	Status shop.OrderStatus
	Search string
	Next   string
}

// adminOrders lists orders newest first, one keyset page at a time, with a
// status filter, a search by order number or email, and totals per status.
func (s *Server) adminOrders(w http.ResponseWriter, r *http.Request) error {
	query := r.URL.Query()
	q, err := shop.ParseOrderQuery(query.Get("status"), query.Get("q"), query.Get("before"))
	if err != nil {
		return err
	}
	list, totals, err := s.shop.ListOrders(r.Context(), q)
	if err != nil {
		return err
	}
	p := ordersPage{Orders: list, Totals: totals, Status: q.Status, Search: q.Search}
	if len(list) == q.Limit {
		p.Next = pageURL("/admin/orders", "status", string(q.Status), "q", q.Search, "before", strconv.FormatInt(list[len(list)-1].ID, 10))
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "admin_orders", p)
}

// ordersURL is the order list's URL for a status, keeping the search.
func ordersURL(status, search string) string {
	return pageURL("/admin/orders", "status", status, "q", search)
}

type adminOrderPage struct {
	shop.OrderDetail
	// Refundable is what is left to refund of the payment.
	Refundable billing.Money
	RefundKey  string
	Notice     string
	Error      string
	Amount     string
}

// notices are what an order page says after an action, by the action's name.
var notices = map[string]string{
	"charge": "The charge was sent; its outcome is below.",
	"retry":  "The charge was sent again with its key; its outcome is below.",
	"cancel": "The order is canceled.",
	"refund": "The refund was sent; it is listed below.",
}

func (s *Server) adminOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	return s.renderOrder(w, r, http.StatusOK, id, adminOrderPage{Notice: notices[r.URL.Query().Get("done")]})
}

func (s *Server) renderOrder(w http.ResponseWriter, r *http.Request, status int, id int64, p adminOrderPage) error {
	d, err := s.shop.OrderDetail(r.Context(), id)
	if err != nil {
		return err
	}
	p.OrderDetail = d
	if d.Paid != nil {
		p.Refundable = billing.Money{Amount: d.Paid.Refundable(), Currency: d.Paid.Money.Currency}
	}
	if p.Amount == "" && p.Refundable.Amount > 0 {
		p.Amount = p.Refundable.Decimal()
	}
	p.RefundKey = billing.NewIdempotencyKey()
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, status, "admin_order", p)
}

// confirmPage asks staff to confirm a money action, naming what it does.
type confirmPage struct {
	Title    string
	Question string
	Action   string
	Button   string
	Danger   bool
	Back     string
	// Fields are carried to the confirmed post.
	Fields map[string]string
}

// orderAction is one order action behind its confirmation step: a post
// without confirm=yes shows what it would do; with it, the action runs and
// the order page shows the outcome.
type orderAction struct {
	name    string
	confirm func(r *http.Request, d shop.OrderDetail) (confirmPage, error)
	run     func(r *http.Request, actor staff.Actor, id int64) error
}

func (s *Server) orderAction(a orderAction) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := idParam(r)
		if err != nil {
			return err
		}
		if r.PostFormValue("confirm") != "yes" {
			d, err := s.shop.OrderDetail(r.Context(), id)
			if err != nil {
				return err
			}
			p, err := a.confirm(r, d)
			if err == nil {
				p.Back = "/admin/orders/" + strconv.FormatInt(id, 10)
				w.Header().Set("Cache-Control", "no-store")
				return s.render(w, r, http.StatusOK, "admin_confirm", p)
			}
			return s.orderError(w, r, id, err)
		}
		actor, _ := staff.ActorFrom(r.Context())
		if err := a.run(r, actor, id); err != nil {
			return s.orderError(w, r, id, err)
		}
		http.Redirect(w, r, "/admin/orders/"+strconv.FormatInt(id, 10)+"?done="+a.name, http.StatusSeeOther)
		return nil
	}
}

// orderError shows the order page again with a refusal; other errors are error pages.
func (s *Server) orderError(w http.ResponseWriter, r *http.Request, id int64, err error) error {
	var invalid *billing.InvalidError
	if errors.As(err, &invalid) {
		return s.renderOrder(w, r, http.StatusBadRequest, id, adminOrderPage{Error: invalid.Message, Amount: r.PostFormValue("amount")})
	}
	return err
}

// who names the customer of an order in a confirmation.
func who(o shop.Order) string { return o.Email + ", order " + o.Number() }

var chargeAction = orderAction{
	name: "charge",
	confirm: func(r *http.Request, d shop.OrderDetail) (confirmPage, error) {
		o := d.Order
		if !o.Status.Chargeable() || o.Card == nil {
			return confirmPage{}, billing.Invalid("order", "Order %s is %s and cannot be charged.", o.Number(), o.Status)
		}
		return confirmPage{Title: "Charge order " + o.Number(), Action: "charge", Button: "Charge " + o.Total.Display(),
			Question: "Charge " + o.Total.Display() + " to " + cardName(o.Card) + ", " + who(o) + "?"}, nil
	},
}

var cancelAction = orderAction{
	name: "cancel",
	confirm: func(r *http.Request, d shop.OrderDetail) (confirmPage, error) {
		o := d.Order
		if !o.Status.Cancelable() {
			return confirmPage{}, billing.Invalid("order", "Order %s is %s and cannot be canceled.", o.Number(), o.Status)
		}
		q := "Cancel order " + o.Number() + " (" + o.Email + ", " + o.Total.Display() + ")? Nothing has been charged"
		if o.Status == shop.PaymentFailed {
			q += "; the customer's payment link stops working"
		}
		return confirmPage{Title: "Cancel order " + o.Number(), Action: "cancel", Button: "Cancel the order", Danger: true, Question: q + "."}, nil
	},
}

var refundAction = orderAction{
	name: "refund",
	confirm: func(r *http.Request, d shop.OrderDetail) (confirmPage, error) {
		o := d.Order
		amount, err := shop.RefundAmount(d, r.PostFormValue("amount"))
		if err != nil {
			return confirmPage{}, err
		}
		return confirmPage{Title: "Refund order " + o.Number(), Action: "refund", Button: "Refund " + amount.Display(), Danger: true,
			Question: "Refund " + amount.Display() + " of the " + o.Total.Display() + " paid to " + cardName(o.Card) + ", " + who(o) + "?",
			Fields:   map[string]string{"amount": amount.Decimal(), "key": r.PostFormValue("key")}}, nil
	},
}

func (s *Server) orderActions() (charge, cancel, refund handlerFunc) {
	c, x, f := chargeAction, cancelAction, refundAction
	c.run = func(r *http.Request, actor staff.Actor, id int64) error {
		_, err := s.shop.ChargeOrder(r.Context(), actor, id)
		return err
	}
	x.run = func(r *http.Request, actor staff.Actor, id int64) error {
		_, err := s.shop.CancelOrder(r.Context(), actor, id)
		return err
	}
	f.run = func(r *http.Request, actor staff.Actor, id int64) error {
		_, _, err := s.shop.RefundOrder(r.Context(), actor, id, r.PostFormValue("amount"), r.PostFormValue("key"))
		return err
	}
	return s.orderAction(c), s.orderAction(x), s.orderAction(f)
}

// adminOrderRetry sends an order's charge again with its stored key.
func (s *Server) adminOrderRetry(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	actor, _ := staff.ActorFrom(r.Context())
	if _, err := s.shop.RetryOrderCharge(r.Context(), actor, id); err != nil {
		return s.orderError(w, r, id, err)
	}
	http.Redirect(w, r, "/admin/orders/"+strconv.FormatInt(id, 10)+"?done=retry", http.StatusSeeOther)
	return nil
}
