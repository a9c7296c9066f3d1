package shop

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/staff"
)

// ChargeOrderArgs is the job that charges one order of a batch. River keeps
// it unique by OrderID alone while unfinished, so an order is in one job at
// a time however often it is picked.
type ChargeOrderArgs struct {
	BatchID int64 `json:"batch_id"`
	OrderID int64 `json:"order_id" river:"unique"`
}

// Kind names the job in River.
func (ChargeOrderArgs) Kind() string { return "charge_order" }

// QueueCharges is the batches' queue, apart from the default one so that
// thousands of charges never hold up the schedules.
const QueueCharges = "charges"

// ChargeJobMaxAttempts is how often an order's job tries before giving up
// on an outcome it cannot learn (Stripe down for half an hour, say): the
// order stays charging, for Retry on its page.
const ChargeJobMaxAttempts = 30

// BatchOutcome is what a batch's job made of one order.
type BatchOutcome string

// Batch outcomes, as a batch counts its orders; the rest are left to do.
const (
	BatchCharged BatchOutcome = "charged"
	// BatchFailed: declined, or authentication needed; the order's
	// recovery path (email, payment link) follows as for any charge.
	BatchFailed BatchOutcome = "failed"
	// BatchSkipped: not chargeable by the time its job ran (canceled, its
	// card detached), or its outcome still unknown when the job gave up.
	BatchSkipped BatchOutcome = "skipped"
)

// ActionOrderChargeBatch is the audit log's name for starting a batch.
const ActionOrderChargeBatch = "order.charge_batch"

// MaxBatchPick is the most orders one can pick by hand (a page of the
// list shows 50); "every placed order" has no bound.
const MaxBatchPick = 100

// BatchSelection is which orders a batch charges: those picked, or every
// placed order numbered Through or lower.
type BatchSelection struct {
	OrderIDs  []int64
	AllPlaced bool
	// Through bounds AllPlaced at the orders the confirmation counted; 0
	// while previewing: all of them.
	Through int64
}

// BatchOrder is an order as a batch sees it.
type BatchOrder struct {
	ID     int64
	Status OrderStatus
	Total  billing.Money
}

// BatchPreview is what a batch would charge, for its confirmation.
type BatchPreview struct {
	Selection BatchSelection
	Count     int
	// Totals are per currency, largest first.
	Totals []billing.Money
}

// Total names what the orders come to: "$21.98", or "$21.98 and €5.00".
func (p BatchPreview) Total() string { return moneyList(p.Totals) }

// Fingerprint is the count and totals in one word, carried by the
// confirmation: the batch is started only for the orders it named.
func (p BatchPreview) Fingerprint() string {
	parts := []string{strconv.Itoa(p.Count)}
	for _, m := range p.Totals {
		parts = append(parts, m.Currency+strconv.FormatInt(m.Amount, 10))
	}
	return strings.Join(parts, "-")
}

// ChargeBatch is a batch and its progress.
type ChargeBatch struct {
	ID        int64
	Key       string
	Actor     staff.Actor
	CreatedAt time.Time
	Orders    int
	Charged   int
	Failed    int
	Skipped   int
	Totals    []billing.Money
}

// Left is how many of its orders are still to be done.
func (b ChargeBatch) Left() int { return b.Orders - b.Charged - b.Failed - b.Skipped }

// Total names what the batch's orders come to.
func (b ChargeBatch) Total() string { return moneyList(b.Totals) }

func moneyList(totals []billing.Money) string {
	names := make([]string, len(totals))
	for i, m := range totals {
		names[i] = m.Display()
	}
	return strings.Join(names, " and ")
}

// ErrBatchChanged refuses to start a batch whose orders are no longer the
// ones its confirmation named; the preview it carries is of what they are now.
type ErrBatchChanged struct{ Now BatchPreview }

func (e *ErrBatchChanged) Error() string {
	return fmt.Sprintf("the placed orders changed since the confirmation: now %d, %s", e.Now.Count, e.Now.Total())
}

// ParseBatchSelection reads a batch's form: all=placed for every placed
// order (with through, once confirmed), or order ids, each field one id or
// several separated by commas (the confirmation carries them in one).
func ParseBatchSelection(all, through string, orders []string) (BatchSelection, error) {
	if all != "" {
		if all != string(Placed) {
			return BatchSelection{}, billing.Invalid("all", "Only placed orders can be charged in a batch.")
		}
		sel := BatchSelection{AllPlaced: true}
		if through != "" {
			n, err := strconv.ParseInt(through, 10, 64)
			if err != nil || n <= 0 {
				return BatchSelection{}, billing.Invalid("through", "The confirmation is malformed; start again from the order list.")
			}
			sel.Through = n
		}
		return sel, nil
	}
	var sel BatchSelection
	seen := map[int64]bool{}
	for _, field := range orders {
		for part := range strings.SplitSeq(field, ",") {
			part = strings.TrimPrefix(strings.TrimSpace(part), "#")
			if part == "" {
				continue
			}
			id, err := strconv.ParseInt(part, 10, 64)
			if err != nil || id <= 0 {
				return BatchSelection{}, billing.Invalid("order", "%q is not an order number.", part)
			}
			if !seen[id] {
				seen[id] = true
				sel.OrderIDs = append(sel.OrderIDs, id)
			}
		}
	}
	switch {
	case len(sel.OrderIDs) == 0:
		return sel, billing.Invalid("order", "Select at least one placed order to charge.")
	case len(sel.OrderIDs) > MaxBatchPick:
		return sel, billing.Invalid("order", "Select at most %d orders, or charge every placed order at once.", MaxBatchPick)
	}
	slices.Sort(sel.OrderIDs)
	return sel, nil
}

// PreviewBatch checks a selection and says what its batch would charge:
// every order picked must exist and be placed.
func (s *Service) PreviewBatch(ctx context.Context, sel BatchSelection) (BatchPreview, error) {
	orders, err := s.store.BatchOrders(ctx, sel)
	if err != nil {
		return BatchPreview{}, fmt.Errorf("preview batch: %w", err)
	}
	return previewOf(sel, orders)
}

// previewOf checks the orders a selection found and sums them up.
func previewOf(sel BatchSelection, orders []BatchOrder) (BatchPreview, error) {
	p := BatchPreview{Selection: sel, Count: len(orders)}
	if !sel.AllPlaced {
		found := map[int64]BatchOrder{}
		for _, o := range orders {
			found[o.ID] = o
		}
		for _, id := range sel.OrderIDs {
			o, ok := found[id]
			switch {
			case !ok:
				return p, billing.Invalid("order", "There is no order #%d.", id)
			case o.Status != Placed:
				return p, billing.Invalid("order", "Order #%d is %s: only placed orders are charged in a batch.", id, o.Status)
			}
		}
	}
	if len(orders) == 0 {
		return p, billing.Invalid("order", "There are no placed orders to charge.")
	}
	byCurrency := map[string]int64{}
	for _, o := range orders {
		byCurrency[o.Total.Currency] += o.Total.Amount
		if sel.AllPlaced {
			p.Selection.Through = max(p.Selection.Through, o.ID)
		}
	}
	for currency, amount := range byCurrency {
		p.Totals = append(p.Totals, billing.Money{Amount: amount, Currency: currency})
	}
	slices.SortFunc(p.Totals, func(a, b billing.Money) int {
		return cmp.Or(cmp.Compare(b.Amount, a.Amount), cmp.Compare(a.Currency, b.Currency))
	})
	return p, nil
}

// StartBatch starts charging the orders a confirmation named, under key
// (one per confirmation, so a double submit starts one batch): in one
// transaction the orders are checked again (picked ones must still be
// placed; for every placed order, the count and totals must be those
// confirmed, or ErrBatchChanged says what they are now), and the batch, its
// orders, one charge job each and the audit row naming actor are written.
// An order whose job from an earlier batch is unfinished is left to that
// job. Every charge is made, and audited before it reaches Stripe, in
// actor's name.
func (s *Service) StartBatch(ctx context.Context, actor staff.Actor, sel BatchSelection, fingerprint, key string) (ChargeBatch, error) {
	if err := refuseAnonymous(actor); err != nil {
		return ChargeBatch{}, err
	}
	if len(key) < 16 || len(key) > 255 {
		return ChargeBatch{}, billing.Invalid("key", "The confirmation has expired; start again from the order list.")
	}
	if b, err := s.store.ChargeBatchOfKey(ctx, key); err == nil {
		return b, nil // submitted twice
	} else if !errors.Is(err, billing.ErrNotFound) {
		return ChargeBatch{}, fmt.Errorf("start batch: %w", err)
	}
	preview, err := s.PreviewBatch(ctx, sel)
	if err != nil {
		return ChargeBatch{}, err
	}
	if preview.Fingerprint() != fingerprint {
		return ChargeBatch{}, &ErrBatchChanged{Now: preview}
	}
	b, err := s.store.CreateChargeBatch(ctx, ChargeBatch{Key: key, Actor: actor}, preview.Selection, func(orders []BatchOrder) error {
		now, err := previewOf(sel, orders)
		if err != nil {
			return err
		}
		if now.Fingerprint() != fingerprint {
			return &ErrBatchChanged{Now: now}
		}
		return nil
	})
	if errors.Is(err, ErrBatchInFlight) {
		return ChargeBatch{}, fmt.Errorf("%w: %w", err, billing.Invalid("order", "Every one of these orders is being charged by an earlier batch already; its progress is shown on the order list."))
	}
	if err != nil {
		return ChargeBatch{}, fmt.Errorf("start batch: %w", err)
	}
	return b, nil
}

// ErrBatchInFlight refuses a batch all of whose orders are being charged
// by an earlier batch's jobs already.
var ErrBatchInFlight = errors.New("every order of the batch is in an earlier batch's unfinished job")

// ChargeBatches returns the newest batches with their progress.
func (s *Service) ChargeBatches(ctx context.Context, limit int) ([]ChargeBatch, error) {
	list, err := s.store.ChargeBatches(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("charge batches: %w", err)
	}
	return list, nil
}

// ChargeBatch returns one batch with its progress.
func (s *Service) ChargeBatch(ctx context.Context, id int64) (ChargeBatch, error) {
	b, err := s.store.ChargeBatch(ctx, id)
	if err != nil {
		return b, fmt.Errorf("charge batch %d: %w", id, err)
	}
	return b, nil
}

// ErrOutcomeUnknown is a batch charge whose outcome is not known yet
// (Stripe's answer was lost, refused with 429, or says processing): the job
// tries again later, sending the same idempotency key.
var ErrOutcomeUnknown = errors.New("the charge's outcome is not known yet")

// ChargeBatchOrder is one job of a batch: it charges the order in the name
// of whoever started the batch, once. A charge left in flight, by a crash
// of this job's last run or a 429 or timeout, is sent again with its key
// (RetryOrderCharge); a paid order is done. The batch counts the order by
// its status; one skipped is marked so, with why. An error means the
// outcome is unknown and the job should run again; lastTry skips it instead.
func (s *Service) ChargeBatchOrder(ctx context.Context, batchID, orderID int64, lastTry bool) (BatchOutcome, error) {
	actor, err := s.store.BatchActor(ctx, batchID)
	if err != nil {
		return "", fmt.Errorf("charge batch %d: %w", batchID, err)
	}
	order, err := s.ChargeOrder(ctx, actor, orderID)
	if errors.Is(err, ErrChargeInFlight) {
		order, err = s.RetryOrderCharge(ctx, actor, orderID)
	}
	outcome, note := batchOutcome(order, err)
	if outcome == "" {
		if err == nil {
			err = fmt.Errorf("order %d: %w", orderID, ErrOutcomeUnknown)
		}
		if !lastTry {
			return "", err
		}
		outcome, note = BatchSkipped, "Its outcome is still unknown after every try; Retry it from the order's page. ("+err.Error()+")"
	}
	if outcome != BatchSkipped {
		return outcome, nil // the order's status says it
	}
	if err := s.store.SkipBatchOrder(context.WithoutCancel(ctx), batchID, orderID, note); err != nil {
		return outcome, fmt.Errorf("charge batch %d: %w", batchID, err)
	}
	return outcome, nil
}

// batchOutcome reads what a charge of an order came to; "" while unknown.
func batchOutcome(order Order, err error) (BatchOutcome, string) {
	var invalid *billing.InvalidError
	switch {
	case errors.Is(err, ErrOrderPaid):
		return BatchCharged, "Paid already."
	case errors.As(err, &invalid):
		return BatchSkipped, invalid.Message
	case err != nil:
		return "", ""
	case order.Status.paidFamily():
		return BatchCharged, ""
	case order.Status == PaymentFailed:
		return BatchFailed, ""
	}
	return "", ""
}
