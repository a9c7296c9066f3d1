package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/jobs"
	"github.com/storefront/storefront/internal/postgres/postgrestest"
	"github.com/storefront/storefront/internal/shop"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
)

// cloneOrder makes n more placed orders like o, to the same card: a batch
// of many without a checkout each.
func (h *harness) cloneOrder(o shop.Order, n int) []int64 {
	h.t.Helper()
	return postgrestest.ClonePlacedOrder(h.t, h.db, o.ID, n)
}

// startChargeWorkers runs the background jobs, batch charges included,
// with the given shop (h's when nil).
func (h *harness) startChargeWorkers(shopSvc *shop.Service) {
	h.t.Helper()
	if shopSvc == nil {
		shopSvc = h.shop
	}
	h.runJobs(jobs.Options{Service: h.svc, Shop: shopSvc})
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// confirmed is a confirmation page's form, as its button posts it.
func confirmed(t *testing.T, page string) url.Values {
	t.Helper()
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		form.Add(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("confirm") != "yes" {
		t.Fatalf("not a confirmation page:\n%s", page)
	}
	return form
}

// batchState is a batch's state in the database: its count, its charge
// jobs, and the audit rows of batches.
func (h *harness) batchState() string {
	h.t.Helper()
	var batches, orders, jobs, audits int
	err := h.db.Pool().QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM charge_batches), (SELECT count(*) FROM charge_batch_orders),
		(SELECT count(*) FROM river_job WHERE kind = 'charge_order'),
		(SELECT count(*) FROM audit_log WHERE action = 'order.charge_batch')`).Scan(&batches, &orders, &jobs, &audits)
	if err != nil {
		h.t.Fatal(err)
	}
	return fmt.Sprintf("%d batches of %d orders, %d jobs, %d audited", batches, orders, jobs, audits)
}

func (h *harness) batch(id int64) shop.ChargeBatch {
	h.t.Helper()
	b, err := h.shop.ChargeBatch(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

func batchID(t *testing.T, res response) int64 {
	t.Helper()
	id, err := strconv.ParseInt(strings.TrimPrefix(res.location, "/admin/orders?batch="), 10, 64)
	if res.status != http.StatusSeeOther || err != nil {
		t.Fatalf("confirmed batch: %d to %q\n%s", res.status, res.location, res.body)
	}
	return id
}

// TestChargeAllPlacedOrdersInTheBackground: "Charge all placed orders"
// names the count and total, starts one job per order once confirmed (and
// once only when the confirmation is submitted twice), and the workers
// charge each in the name of the staff member who confirmed, audited; the
// order list shows the progress.
func TestChargeAllPlacedOrdersInTheBackground(t *testing.T) {
	h := newHarness(t)
	cat := h.catalog()
	ann := h.placeOrder(cat["T-shirt"], "2", "ann@example.com", "4242424242424242")
	bob := h.placeOrder(cat["Mug"], "1", "bob@example.com", "4242424242424242")
	cid := h.placeOrder(cat["Sticker pack"], "1", "cid@example.com", "4000000000000341")
	paid := h.placeOrder(cat["Mug"], "1", "dee@example.com", "4242424242424242")
	if _, err := h.shop.ChargeOrder(context.Background(), staffActor(), paid.ID); err != nil {
		t.Fatal(err)
	}
	list := h.admin("/admin/orders", "admin", adminPassword)
	if !strings.Contains(list.body, "Charge all placed orders (3)") {
		t.Fatalf("the order list offers no batch of the 3 placed orders:\n%s", list.body)
	}

	before := h.batchState()
	confirm := h.adminAsk("/admin/orders/charge", url.Values{"all": {"placed"}})
	total := billing.Money{Amount: ann.Total.Amount + bob.Total.Amount + cid.Total.Amount, Currency: "usd"}
	if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "3 orders, "+total.Display()+" in all") {
		t.Fatalf("confirmation: %d, want it to name 3 orders and %s\n%s", confirm.status, total.Display(), confirm.body)
	}
	if h.batchState() != before {
		t.Fatal("the confirmation step started something")
	}
	form := confirmed(t, confirm.body)
	id := batchID(t, h.adminAsk("/admin/orders/charge", form))
	// The confirmation submitted again (a double click): the same batch.
	if again := batchID(t, h.adminAsk("/admin/orders/charge", form)); again != id {
		t.Errorf("a second submit started batch %d beside %d", again, id)
	}
	if got, want := h.batchState(), "1 batches of 3 orders, 3 jobs, 1 audited"; got != want {
		t.Errorf("after two submits: %s, want %s", got, want)
	}
	if b := h.batch(id); b.Orders != 3 || b.Left() != 3 || b.Actor.Name != "admin" || b.Total() != total.Display() {
		t.Errorf("batch before its jobs ran: %+v", b)
	}
	var audited string
	if err := h.db.Pool().QueryRow(context.Background(), `SELECT concat_ws(' / ', actor, target, amount, currency, detail) FROM audit_log WHERE action = $1`,
		shop.ActionOrderChargeBatch).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("admin / charge batch %d / %d / usd / 3 orders, %s", id, total.Amount, total.Display()); audited != want {
		t.Errorf("audit row %q, want %q", audited, want)
	}

	h.startChargeWorkers(nil)
	waitFor(t, "every order of the batch is done", func() bool { return h.batch(id).Left() == 0 })
	b := h.batch(id)
	if b.Charged != 2 || b.Failed != 1 || b.Skipped != 0 {
		t.Errorf("batch: %d charged, %d failed, %d skipped; want 2, 1, 0", b.Charged, b.Failed, b.Skipped)
	}
	for o, want := range map[int64]shop.OrderStatus{ann.ID: shop.Paid, bob.ID: shop.Paid, cid.ID: shop.PaymentFailed} {
		if got := h.orderByID(o).Status; got != want {
			t.Errorf("order %d is %s, want %s", o, got, want)
		}
	}
	if n := h.stripeCount("/v1/payment_intents"); n != 4 {
		t.Errorf("%d PaymentIntents on Stripe, want 4: one per order", n)
	}
	var charges int
	if err := h.db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE actor = 'admin' AND action = $1`, billing.ActionCharge).Scan(&charges); err != nil {
		t.Fatal(err)
	}
	if charges != 3 {
		t.Errorf("%d charges audited in the name of admin, want the batch's 3", charges)
	}
	failed := 0
	for _, n := range h.notifications() {
		if n.Kind == billing.NotificationPaymentFailed && n.Recipient == "cid@example.com" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("the declined order's customer got %d failure messages, want 1", failed)
	}
	page := h.admin("/admin/orders?batch="+strconv.FormatInt(id, 10), "admin", adminPassword).body
	row := regexp.MustCompile(`(?s)<tr data-batch="` + strconv.FormatInt(id, 10) + `"[^>]*>.*?</tr>`).FindString(page)
	for _, want := range []string{`class="batch-charged">2<`, `class="batch-failed">1<`, `class="batch-left">0<`, total.Display(), "admin"} {
		if !strings.Contains(row, want) {
			t.Errorf("the batch's row lacks %s:\n%s", want, row)
		}
	}
	if strings.Contains(page, "Charge all placed orders") {
		t.Error("the list still offers to charge placed orders when none is left")
	}
}

// TestBadBatchInputChangesNothing: no order picked, an unknown one, one
// not placed, a malformed one, too many, a status other than placed, an
// expired confirmation: each is refused with a message, and nothing is
// enqueued, audited or sent to Stripe.
func TestBadBatchInputChangesNothing(t *testing.T) {
	h := newHarness(t)
	cat := h.catalog()
	placed := h.placeOrder(cat["T-shirt"], "1", "ann@example.com", "4242424242424242")
	paid := h.placeOrder(cat["Mug"], "1", "bob@example.com", "4242424242424242")
	if _, err := h.shop.ChargeOrder(context.Background(), staffActor(), paid.ID); err != nil {
		t.Fatal(err)
	}
	many := make([]string, shop.MaxBatchPick+1)
	for i := range many {
		many[i] = strconv.Itoa(2000 + i)
	}
	cases := []struct {
		name string
		form url.Values
		want string
	}{
		{"nothing selected", url.Values{}, "Select at least one placed order"},
		{"an unknown order", url.Values{"order": {strconv.FormatInt(placed.ID, 10), "999999"}}, "There is no order #999999"},
		{"an order not placed", url.Values{"order": {strconv.FormatInt(placed.ID, 10), strconv.FormatInt(paid.ID, 10)}}, fmt.Sprintf("Order #%d is paid: only placed orders", paid.ID)},
		{"not a number", url.Values{"order": {"12x"}}, `&#34;12x&#34; is not an order number`},
		{"too many", url.Values{"order": {strings.Join(many, ",")}}, fmt.Sprintf("Select at most %d orders", shop.MaxBatchPick)},
		{"another status", url.Values{"all": {"paid"}}, "Only placed orders can be charged in a batch"},
		{"confirmed without a key", url.Values{"order": {strconv.FormatInt(placed.ID, 10)}, "confirm": {"yes"}}, "The confirmation has expired"},
	}
	calls := h.gateway.TotalCalls()
	before, audit := h.batchState(), len(h.auditActors())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := h.adminAsk("/admin/orders/charge", c.form)
			if res.status != http.StatusBadRequest || !strings.Contains(res.body, c.want) || !strings.Contains(res.body, `id="orders-error"`) {
				t.Errorf("%d, want 400 with %q on the order list\n%s", res.status, c.want, res.body)
			}
		})
	}
	if h.batchState() != before || len(h.auditActors()) != audit || h.gateway.TotalCalls() != calls {
		t.Errorf("bad input changed something: %s (was %s), %d Stripe calls", h.batchState(), before, h.gateway.TotalCalls()-calls)
	}

	// Confirmed, but the placed orders changed meanwhile: the confirmation
	// is shown again with what they are now, and nothing starts.
	confirm := h.adminAsk("/admin/orders/charge", url.Values{"all": {"placed"}})
	form := confirmed(t, confirm.body)
	if _, err := h.shop.ChargeOrder(context.Background(), staffActor(), placed.ID); err != nil {
		t.Fatal(err)
	}
	h.placeOrder(cat["Mug"], "1", "late@example.com", "4242424242424242") // after the confirmation: not in it
	res := h.adminAsk("/admin/orders/charge", form)
	if res.status != http.StatusBadRequest || !strings.Contains(res.body, "There are no placed orders to charge") {
		t.Errorf("confirmed after its only order was charged: %d\n%s", res.status, res.body)
	}
	confirm = h.adminAsk("/admin/orders/charge", url.Values{"all": {"placed"}})
	form = confirmed(t, confirm.body)
	h.placeOrder(cat["Mug"], "1", "later@example.com", "4242424242424242")
	form.Set("through", strconv.FormatInt(h.newestOrder(), 10)) // a tampered bound
	res = h.adminAsk("/admin/orders/charge", form)
	if res.status != http.StatusOK || !strings.Contains(res.body, `id="confirm-notice"`) || !strings.Contains(res.body, "2 orders") {
		t.Errorf("confirmed with other orders than it named: %d, want the confirmation again, naming 2 orders\n%s", res.status, res.body)
	}
	if h.batchState() != before {
		t.Errorf("a changed confirmation started something: %s", h.batchState())
	}
}

// newestOrder is the number of the newest order.
func (h *harness) newestOrder() int64 {
	h.t.Helper()
	var id int64
	if err := h.db.Pool().QueryRow(context.Background(), `SELECT max(id) FROM orders`).Scan(&id); err != nil {
		h.t.Fatal(err)
	}
	return id
}

// TestAnOrderIsInOneBatchAtATime: two confirmations of the same orders
// (two tabs), and the same confirmation submitted twice at once: while the
// first batch's jobs are unfinished, no order gets a second job.
func TestAnOrderIsInOneBatchAtATime(t *testing.T) {
	h := newHarness(t)
	o := h.placeOrder(h.catalog()["T-shirt"], "1", "ann@example.com", "4242424242424242")
	ids := append([]int64{o.ID}, h.cloneOrder(o, 4)...)

	first := confirmed(t, h.adminAsk("/admin/orders/charge", url.Values{"all": {"placed"}}).body)
	second := confirmed(t, h.adminAsk("/admin/orders/charge", url.Values{"all": {"placed"}}).body)
	picked := confirmed(t, h.adminAsk("/admin/orders/charge", url.Values{"order": {fmt.Sprint(ids[1]), fmt.Sprint(ids[2])}}).body)
	var wg sync.WaitGroup
	got := make([]response, 2)
	for i := range got {
		wg.Go(func() { got[i] = h.adminAsk("/admin/orders/charge", first) })
	}
	wg.Wait()
	if a, b := batchID(t, got[0]), batchID(t, got[1]); a != b {
		t.Errorf("one confirmation submitted twice at once started batches %d and %d", a, b)
	}
	for _, form := range []url.Values{second, picked} {
		res := h.adminAsk("/admin/orders/charge", form)
		if res.status != http.StatusBadRequest || !strings.Contains(res.body, "being charged by an earlier batch already") {
			t.Errorf("a second batch of the same orders: %d\n%s", res.status, res.body)
		}
	}
	if got, want := h.batchState(), "1 batches of 5 orders, 5 jobs, 1 audited"; got != want {
		t.Errorf("%s, want %s", got, want)
	}

	h.startChargeWorkers(nil)
	waitFor(t, "the batch is done", func() bool { return h.batch(batchID(t, got[0])).Left() == 0 })
	if n := h.stripeCount("/v1/payment_intents"); n != len(ids) {
		t.Errorf("%d PaymentIntents for %d orders", n, len(ids))
	}
}

// TestA429LeavesNoOrderFailed: Stripe refuses charges with 429 and nothing
// retries them within the call (stripe-go's retries off, no shared
// schedule): each order's job runs again, sends the same idempotency key,
// and every order ends paid, charged once.
func TestA429LeavesNoOrderFailed(t *testing.T) {
	stripe := newStripe(t, stripeemu.Options{RateLimit: 3})
	h := newStore(t, stripe, nil)
	o := h.placeOrder(h.catalog()["T-shirt"], "1", "ann@example.com", "4242424242424242")
	ids := append([]int64{o.ID}, h.cloneOrder(o, 7)...)

	noRetries := int64(0)
	bare := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_harness", APIBase: stripe.server.URL, MaxNetworkRetries: &noRetries})
	key, err := h.db.Secret(context.Background(), billing.RecoveryKeyName)
	if err != nil {
		t.Fatal(err)
	}
	svc := billing.NewService(h.db, bare, billing.Options{BaseURL: h.store.URL, Currency: "usd", APIVersion: stripeapi.APIVersion,
		RecoveryKey: key, Audit: h.staff.Record, DunningSchedule: []time.Duration{}})
	shopSvc := shop.NewService(h.db, svc, shop.Options{BaseURL: h.store.URL, Audit: h.staff.Record})

	form := confirmed(t, h.adminAsk("/admin/orders/charge", url.Values{"all": {"placed"}}).body)
	id := batchID(t, h.adminAsk("/admin/orders/charge", form))
	h.startChargeWorkers(shopSvc)
	waitFor(t, "every order is done", func() bool { return h.batch(id).Left() == 0 })

	if b := h.batch(id); b.Charged != len(ids) {
		t.Errorf("batch: %d charged, %d failed, %d skipped of %d", b.Charged, b.Failed, b.Skipped, len(ids))
	}
	var retried, attempts int
	if err := h.db.Pool().QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM river_job WHERE kind = 'charge_order' AND attempt > 1 AND errors::text LIKE '%rate_limit%'),
		(SELECT count(*) FROM charge_attempts)`).Scan(&retried, &attempts); err != nil {
		t.Fatal(err)
	}
	if retried == 0 {
		t.Error("no job met a 429: the test proves nothing")
	}
	if attempts != len(ids) {
		t.Errorf("%d charge attempts for %d orders: a 429 made a new attempt instead of resending its key", attempts, len(ids))
	}
	for _, id := range ids {
		if got := h.orderByID(id).Status; got != shop.Paid {
			t.Errorf("order %d is %s, want paid", id, got)
		}
	}
	var list struct {
		Object string            `json:"object"`
		Data   []json.RawMessage `json:"data"`
	}
	waitFor(t, "the emulator lists the PaymentIntents (its limit allowing)", func() bool {
		return json.Unmarshal([]byte(h.emuGet("/v1/payment_intents?limit=100")), &list) == nil && list.Object == "list"
	})
	if len(list.Data) != len(ids) {
		t.Errorf("%d PaymentIntents for %d orders", len(list.Data), len(ids))
	}
}

// TestABatchSkipsWhatItCannotCharge: an order canceled after its batch
// started is skipped, saying why; one whose outcome stays unknown (Stripe
// down) is retried, and skipped at the job's last try, left charging for
// Retry on its page. Neither is charged.
func TestABatchSkipsWhatItCannotCharge(t *testing.T) {
	h := newHarness(t)
	o := h.placeOrder(h.catalog()["T-shirt"], "1", "ann@example.com", "4242424242424242")
	ids := append([]int64{o.ID}, h.cloneOrder(o, 1)...)
	id := batchID(t, h.adminAsk("/admin/orders/charge", confirmed(t, h.adminAsk("/admin/orders/charge", url.Values{"all": {"placed"}}).body)))
	if _, err := h.shop.CancelOrder(context.Background(), staffActor(), ids[0]); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if outcome, err := h.shop.ChargeBatchOrder(ctx, id, ids[0], false); err != nil || outcome != shop.BatchSkipped {
		t.Errorf("the canceled order: %s, %v; want skipped", outcome, err)
	}
	h.stripe.down.Store(true)
	if _, err := h.shop.ChargeBatchOrder(ctx, id, ids[1], false); err == nil {
		t.Error("a charge Stripe never answered was taken as done")
	}
	if outcome, err := h.shop.ChargeBatchOrder(ctx, id, ids[1], true); err != nil || outcome != shop.BatchSkipped {
		t.Errorf("the last try of a charge Stripe never answers: %s, %v; want skipped", outcome, err)
	}
	h.stripe.down.Store(false)
	if b := h.batch(id); b.Skipped != 2 || b.Left() != 0 || b.Charged != 0 {
		t.Errorf("batch: %d charged, %d skipped, %d left; want 0, 2, 0", b.Charged, b.Skipped, b.Left())
	}
	var notes string
	if err := h.db.Pool().QueryRow(ctx, `SELECT string_agg(note, ' | ' ORDER BY order_id) FROM charge_batch_orders`).Scan(&notes); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notes, "canceled and cannot be charged") || !strings.Contains(notes, "Retry it from the order's page") {
		t.Errorf("the skips do not say why: %s", notes)
	}
	if got := h.orderByID(ids[1]).Status; got != shop.Charging {
		t.Errorf("the order whose outcome is unknown is %s, want charging", got)
	}
	if n := h.stripeCount("/v1/payment_intents"); n != 0 {
		t.Errorf("%d PaymentIntents", n)
	}
}
