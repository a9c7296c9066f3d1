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
	// Batches are the newest charge batches, with their progress.
	Batches []shop.ChargeBatch
	// Placed is how many orders are placed, for "Charge all placed orders".
	Placed int
	// Batch is the batch just started, shown first.
	Batch int64
	Error string
}

// adminOrders lists orders newest first, one keyset page at a time, with a
// status filter, a search by order number or email, and totals per status.
func (s *Server) adminOrders(w http.ResponseWriter, r *http.Request) error {
	query := r.URL.Query()
	q, err := shop.ParseOrderQuery(query.Get("status"), query.Get("q"), query.Get("before"))
	if err != nil {
		return err
	}
	batch, _ := strconv.ParseInt(query.Get("batch"), 10, 64)
	return s.renderOrders(w, r, http.StatusOK, q, batch, "")
}

func (s *Server) renderOrders(w http.ResponseWriter, r *http.Request, status int, q shop.OrderQuery, batch int64, problem string) error {
	list, totals, err := s.shop.ListOrders(r.Context(), q)
	if err != nil {
		return err
	}
	batches, err := s.shop.ChargeBatches(r.Context(), batchesShown)
	if err != nil {
		return err
	}
	p := ordersPage{Orders: list, Totals: totals, Status: q.Status, Search: q.Search, Batches: batches, Batch: batch, Error: problem}
	for _, t := range totals {
		if t.Status == shop.Placed {
			p.Placed = t.Count
		}
	}
	if len(list) == q.Limit {
		p.Next = pageURL("/admin/orders", "status", string(q.Status), "q", q.Search, "before", strconv.FormatInt(list[len(list)-1].ID, 10))
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, status, "admin_orders", p)
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
	Error      string
	Amount     string
}

func (s *Server) adminOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	return s.renderOrder(w, r, http.StatusOK, id, adminOrderPage{})
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

// orderAction is one order action behind its confirmation step: a post
// without confirm=yes shows what it would do; with it, the action runs and
// the order page shows what it did.
type orderAction struct {
	name    string
	confirm func(r *http.Request, d shop.OrderDetail) (confirmPage, error)
	// run does the action and says what it did.
	run func(r *http.Request, actor staff.Actor, d shop.OrderDetail) (flash, error)
}

func (s *Server) orderAction(a orderAction) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := idParam(r)
		if err != nil {
			return err
		}
		d, err := s.shop.OrderDetail(r.Context(), id)
		if err != nil {
			return err
		}
		page := orderPath(id)
		if !confirmed(r) {
			p, err := a.confirm(r, d)
			if err != nil {
				return s.orderError(w, r, id, err)
			}
			p.Action, p.Back, p.BackLabel = page+"/"+a.name, page, "Back to the order"
			return s.askToConfirm(w, r, p)
		}
		actor, _ := staff.ActorFrom(r.Context())
		message, err := a.run(r, actor, d)
		if err != nil {
			return s.orderError(w, r, id, err)
		}
		return s.done(w, r, page, message)
	}
}

func orderPath(id int64) string { return "/admin/orders/" + strconv.FormatInt(id, 10) }

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

// chargeSent says what a charge of an order came to, by the order's status after it.
func chargeSent(before, after shop.Order) flash {
	charge := "The charge of " + before.Total.Display() + " to " + cardName(before.Card) + " for order " + before.Number()
	switch after.Status {
	case shop.Paid:
		return said("Charged " + before.Total.Display() + " to " + cardName(before.Card) + " for order " + before.Number() + ".")
	case shop.PaymentFailed:
		return warning(charge + " did not go through; the order's payment failed.")
	case shop.Charging:
		return warning(charge + " was sent; Stripe's answer has not arrived yet.")
	}
	return said(charge + " was sent; the order is " + label(after.Status) + ".")
}

var chargeAction = orderAction{
	name: "charge",
	confirm: func(r *http.Request, d shop.OrderDetail) (confirmPage, error) {
		o := d.Order
		if !o.Status.Chargeable() || o.Card == nil {
			return confirmPage{}, billing.Invalid("order", "Order %s is %s and cannot be charged.", o.Number(), label(o.Status))
		}
		return confirmPage{Title: "Charge order " + o.Number(), Button: "Charge " + o.Total.Display(),
			Question: "Charge " + o.Total.Display() + " to " + cardName(o.Card) + ", " + who(o) + "?",
			Note:     "The card is charged now, without the customer present."}, nil
	},
}

var retryAction = orderAction{
	name: "retry",
	confirm: func(r *http.Request, d shop.OrderDetail) (confirmPage, error) {
		o := d.Order
		if o.Status != shop.Charging {
			return confirmPage{}, billing.Invalid("order", "Order %s is %s: there is no charge to send again.", o.Number(), label(o.Status))
		}
		return confirmPage{Title: "Send order " + o.Number() + "'s charge again", Button: "Send the charge again",
			Question: "Send the charge of " + o.Total.Display() + " to " + cardName(o.Card) + ", " + who(o) + ", again?",
			Note:     "It carries the same idempotency key, so the card is charged at most once."}, nil
	},
}

var cancelAction = orderAction{
	name: "cancel",
	confirm: func(r *http.Request, d shop.OrderDetail) (confirmPage, error) {
		o := d.Order
		if !o.Status.Cancelable() {
			return confirmPage{}, billing.Invalid("order", "Order %s is %s and cannot be canceled.", o.Number(), label(o.Status))
		}
		q := "Cancel order " + o.Number() + " (" + o.Email + ", " + o.Total.Display() + ")? Nothing has been charged"
		if o.Status == shop.PaymentFailed {
			q += "; the customer's payment link stops working"
		}
		return confirmPage{Title: "Cancel order " + o.Number(), Button: "Cancel the order", Danger: true, Question: q + "."}, nil
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
		return confirmPage{Title: "Refund order " + o.Number(), Button: "Refund " + amount.Display(), Danger: true,
			Question: "Refund " + amount.Display() + " of the " + o.Total.Display() + " paid to " + cardName(o.Card) + ", " + who(o) + "?",
			Fields:   map[string]string{"amount": amount.Decimal(), "key": r.PostFormValue("key")}}, nil
	},
}

// refundSent says where a refund stands once sent.
func refundSent(o shop.Order, ref billing.ChargeRefund) flash {
	switch ref.Status {
	case billing.RefundSucceeded:
		return said("Refunded " + ref.Money.Display() + " of order " + o.Number() + " to " + cardName(o.Card) + ".")
	case billing.RefundFailed, billing.RefundCanceled:
		return warning("The refund of " + ref.Money.Display() + " of order " + o.Number() + " " + label(ref.Status) + "; see its line below.")
	}
	return said("The refund of " + ref.Money.Display() + " of order " + o.Number() + " was sent; Stripe is processing it.")
}

func (s *Server) orderActions() (charge, retry, cancel, refund handlerFunc) {
	c, t, x, f := chargeAction, retryAction, cancelAction, refundAction
	c.run = func(r *http.Request, actor staff.Actor, d shop.OrderDetail) (flash, error) {
		after, err := s.shop.ChargeOrder(r.Context(), actor, d.Order.ID)
		return chargeSent(d.Order, after), err
	}
	t.run = func(r *http.Request, actor staff.Actor, d shop.OrderDetail) (flash, error) {
		after, err := s.shop.RetryOrderCharge(r.Context(), actor, d.Order.ID)
		return chargeSent(d.Order, after), err
	}
	x.run = func(r *http.Request, actor staff.Actor, d shop.OrderDetail) (flash, error) {
		_, err := s.shop.CancelOrder(r.Context(), actor, d.Order.ID)
		return said("Order " + d.Order.Number() + " is canceled."), err
	}
	f.run = func(r *http.Request, actor staff.Actor, d shop.OrderDetail) (flash, error) {
		_, ref, err := s.shop.RefundOrder(r.Context(), actor, d.Order.ID, r.PostFormValue("amount"), r.PostFormValue("key"))
		return refundSent(d.Order, ref), err
	}
	return s.orderAction(c), s.orderAction(t), s.orderAction(x), s.orderAction(f)
}
