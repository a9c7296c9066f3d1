package stripeemu_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/stripe/stripe-go/v76"
)

// completedSetup returns a customer and a session completed with a 4242 card.
func completedSetup(t *testing.T, env *env) (*stripe.Customer, *stripe.CheckoutSession) {
	t.Helper()
	cus := env.customer("jenny@example.com")
	sess := env.setupSession(cus.ID)
	if err := env.emu.CompleteCheckout(context.Background(), sess.ID, testCards()[0].card("jenny@example.com")); err != nil {
		t.Fatal(err)
	}
	return cus, sess
}

func TestExpand(t *testing.T) {
	t.Parallel()
	env := newEnv(t, stripeemu.Options{})
	cus, sess := completedSetup(t, env)

	// Not expanded: references are id strings, as on Stripe.
	code, _, m := env.do("GET", "/v1/checkout/sessions/"+sess.ID, "", nil)
	if code != 200 || m["object"] != "checkout.session" || m["livemode"] != false || m["customer"] != cus.ID {
		t.Fatalf("session: %d %v", code, m)
	}
	siID, ok := m["setup_intent"].(string)
	if !ok || !strings.HasPrefix(siID, "seti_") {
		t.Fatalf("setup_intent = %#v, want an id", m["setup_intent"])
	}
	if m["url"] != nil || m["amount_total"] != nil || m["payment_intent"] != nil {
		t.Errorf("url %v amount_total %v payment_intent %v, want null", m["url"], m["amount_total"], m["payment_intent"])
	}

	// Dotted expansion, both bracket styles.
	for _, q := range []string{"expand[]=setup_intent.payment_method&expand[]=customer", "expand[0]=setup_intent.payment_method&expand[1]=customer"} {
		_, _, m = env.do("GET", "/v1/checkout/sessions/"+sess.ID+"?"+q, "", nil)
		si, ok := m["setup_intent"].(map[string]any)
		if !ok || si["object"] != "setup_intent" || si["customer"] != cus.ID {
			t.Fatalf("%s: setup_intent = %#v", q, m["setup_intent"])
		}
		pm, ok := si["payment_method"].(map[string]any)
		if !ok || pm["object"] != "payment_method" || pm["customer"] != cus.ID {
			t.Fatalf("%s: payment_method = %#v", q, si["payment_method"])
		}
		if c, ok := m["customer"].(map[string]any); !ok || c["email"] != "jenny@example.com" {
			t.Fatalf("%s: customer = %#v", q, m["customer"])
		}
		if !strings.HasPrefix(si["client_secret"].(string), siID+"_secret_") {
			t.Errorf("client_secret = %v", si["client_secret"])
		}
	}

	// Expand on setup intents and payment methods.
	_, _, m = env.do("GET", "/v1/setup_intents/"+siID+"?expand[]=payment_method.customer", "", nil)
	pm := m["payment_method"].(map[string]any)
	if c, ok := pm["customer"].(map[string]any); !ok || c["id"] != cus.ID {
		t.Fatalf("payment_method.customer = %#v", pm["customer"])
	}
	// Lists expand with a data. prefix.
	_, _, m = env.do("GET", "/v1/customers/"+cus.ID+"/payment_methods?type=card&expand[]=data.customer", "", nil)
	data := m["data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["customer"].(map[string]any)["object"] != "customer" {
		t.Fatalf("list with expand = %v", m)
	}

	// Unknown expansions are a 400 with param expand.
	code, _, m = env.do("GET", "/v1/checkout/sessions/"+sess.ID+"?expand[]=setup_intent.nope", "", nil)
	if e := m["error"].(map[string]any); code != 400 || e["param"] != "expand" || e["type"] != "invalid_request_error" {
		t.Fatalf("bad expand: %d %v", code, m)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	env := newEnv(t, stripeemu.Options{})

	hdr := map[string]string{"Idempotency-Key": "key-1"}
	code1, h1, m1 := env.do("POST", "/v1/customers", "email=a%40example.com&metadata[k]=v", hdr)
	code2, h2, m2 := env.do("POST", "/v1/customers", "metadata[k]=v&email=a%40example.com", hdr)
	if code1 != 200 || code2 != 200 || m1["id"] != m2["id"] {
		t.Fatalf("replay: %d %v / %d %v", code1, m1["id"], code2, m2["id"])
	}
	if h1.Get("Idempotent-Replayed") != "" || h2.Get("Idempotent-Replayed") != "true" {
		t.Errorf("Idempotent-Replayed = %q, %q", h1.Get("Idempotent-Replayed"), h2.Get("Idempotent-Replayed"))
	}
	if h1.Get("Request-Id") == "" || h1.Get("Request-Id") == h2.Get("Request-Id") {
		t.Errorf("Request-Id = %q, %q", h1.Get("Request-Id"), h2.Get("Request-Id"))
	}

	// Same key, other params: idempotency_error, parsed by stripe-go.
	_, err := env.sc.Customers.New(&stripe.CustomerParams{
		Params: stripe.Params{IdempotencyKey: stripe.String("key-1")},
		Email:  stripe.String("b@example.com"),
	})
	if se := stripeErr(t, err); se.Type != stripe.ErrorTypeIdempotency || se.HTTPStatusCode != 400 {
		t.Fatalf("mismatch error = %+v", se)
	}
	// Another API key has its own key space.
	code, _, m := env.do("POST", "/v1/customers", "email=b%40example.com", map[string]string{"Idempotency-Key": "key-1", "Authorization": "Bearer sk_test_other"})
	if code != 200 || m["id"] == m1["id"] {
		t.Fatalf("other api key: %d %v", code, m)
	}

	// Concurrent requests with one key execute once: the others replay it
	// or, while it runs, get Stripe's 409 (which stripe-go retries).
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := env.sc.Customers.New(&stripe.CustomerParams{
				Params: stripe.Params{IdempotencyKey: stripe.String("key-concurrent")},
				Email:  stripe.String("c@example.com"),
			})
			var se *stripe.Error
			if errors.As(err, &se) && se.Type == stripe.ErrorTypeIdempotency && se.HTTPStatusCode == 409 {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = c.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != "" && ids[0] != "" && id != ids[0] {
			t.Fatalf("concurrent ids differ: %v", ids)
		}
	}
	it := env.sc.Customers.List(&stripe.CustomerListParams{Email: stripe.String("c@example.com")})
	n := 0
	for it.Next() {
		n++
	}
	if n != 1 {
		t.Fatalf("%d customers created with one idempotency key", n)
	}

	// A declined charge (402) is replayed too: a retry never charges twice.
	cus, sess := completedSetupWith(t, env, "4000000000000341")
	_ = sess
	pms := env.sc.Customers.ListPaymentMethods(&stripe.CustomerListPaymentMethodsParams{Customer: stripe.String(cus.ID), Type: stripe.String("card")})
	pms.Next()
	pmID := pms.PaymentMethod().ID
	body := fmt.Sprintf("amount=1099&currency=usd&customer=%s&payment_method=%s&off_session=true&confirm=true&payment_method_types[]=card", cus.ID, pmID)
	c1, _, e1 := env.do("POST", "/v1/payment_intents", body, map[string]string{"Idempotency-Key": "charge-1"})
	c2, h, e2 := env.do("POST", "/v1/payment_intents", body, map[string]string{"Idempotency-Key": "charge-1"})
	pi1 := e1["error"].(map[string]any)["payment_intent"].(map[string]any)["id"]
	pi2 := e2["error"].(map[string]any)["payment_intent"].(map[string]any)["id"]
	if c1 != 402 || c2 != 402 || pi1 != pi2 || h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("402 replay: %d %d %v %v", c1, c2, pi1, pi2)
	}
}

func completedSetupWith(t *testing.T, env *env, number string) (*stripe.Customer, *stripe.CheckoutSession) {
	t.Helper()
	cus := env.customer("jenny@example.com")
	sess := env.setupSession(cus.ID)
	card := testCard{number: number, cvc: "123"}.card("jenny@example.com")
	if err := env.emu.CompleteCheckout(context.Background(), sess.ID, card); err != nil {
		t.Fatal(err)
	}
	return cus, sess
}

func TestEventsList(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	env := newEnv(t, stripeemu.Options{Now: clock.Now})
	a := env.customer("a@example.com")
	clock.Add(10 * time.Second)
	b := env.customer("b@example.com")
	clock.Add(10 * time.Second)
	if _, err := env.sc.Customers.Update(b.ID, &stripe.CustomerParams{Name: stripe.String("B")}); err != nil {
		t.Fatal(err)
	}

	list := func(p *stripe.EventListParams) []*stripe.Event {
		t.Helper()
		var out []*stripe.Event
		it := env.sc.Events.List(p)
		for it.Next() {
			out = append(out, it.Event())
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := list(&stripe.EventListParams{})
	if len(all) != 3 || all[0].Type != "customer.updated" || all[2].Type != "customer.created" {
		t.Fatalf("events newest first: %v", all)
	}
	if all[0].Data.PreviousAttributes["name"] != nil || all[0].Data.Object["name"] != "B" {
		t.Errorf("previous_attributes = %v", all[0].Data.PreviousAttributes)
	}
	if _, ok := all[0].Data.PreviousAttributes["name"]; !ok {
		t.Errorf("previous_attributes lacks name: %v", all[0].Data.PreviousAttributes)
	}
	if all[2].Data.Object["id"] != a.ID || all[2].APIVersion != stripe.APIVersion || all[2].Request == nil || all[2].Request.ID == "" {
		t.Errorf("event = %+v", all[2])
	}

	got := list(&stripe.EventListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: 1_700_000_010}})
	if len(got) != 2 {
		t.Fatalf("created[gte]: %d events", len(got))
	}
	got = list(&stripe.EventListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThan: 1_700_000_000, LesserThan: 1_700_000_020}})
	if len(got) != 1 || got[0].Data.Object["id"] != b.ID {
		t.Fatalf("created[gt,lt]: %v", got)
	}
	got = list(&stripe.EventListParams{Types: []*string{stripe.String("customer.created")}})
	if len(got) != 2 {
		t.Fatalf("type: %d events", len(got))
	}
	got = list(&stripe.EventListParams{Types: []*string{stripe.String("customer.updated"), stripe.String("payment_intent.succeeded")}})
	if len(got) != 1 {
		t.Fatalf("types[]: %d events", len(got))
	}
	got = list(&stripe.EventListParams{Types: []*string{stripe.String("customer.*")}})
	if len(got) != 3 {
		t.Fatalf("type wildcard: %d events", len(got))
	}

	// Paging with limit and cursors.
	code, _, m := env.do("GET", "/v1/events?limit=2", "", nil)
	data := m["data"].([]any)
	if code != 200 || len(data) != 2 || m["has_more"] != true || m["url"] != "/v1/events" || m["object"] != "list" {
		t.Fatalf("page 1: %v", m)
	}
	last := data[1].(map[string]any)["id"].(string)
	_, _, m = env.do("GET", "/v1/events?limit=2&starting_after="+last, "", nil)
	if d := m["data"].([]any); len(d) != 1 || m["has_more"] != false || d[0].(map[string]any)["id"] != all[2].ID {
		t.Fatalf("page 2: %v", m)
	}
	ev, err := env.sc.Events.Get(all[1].ID, nil)
	if err != nil || ev.ID != all[1].ID {
		t.Fatalf("get event: %v", err)
	}
}

func TestCustomersAndPaymentMethods(t *testing.T) {
	t.Parallel()
	env := newEnv(t, stripeemu.Options{})
	cus, _ := completedSetup(t, env)
	other := env.customer("other@example.com")

	pms := env.sc.Customers.ListPaymentMethods(&stripe.CustomerListPaymentMethodsParams{Customer: stripe.String(cus.ID)})
	var pmID string
	for pms.Next() {
		pmID = pms.PaymentMethod().ID
	}
	if pmID == "" {
		t.Fatal("no payment method listed for the customer")
	}

	// Default payment method must be attached to that customer.
	if _, err := env.sc.Customers.Update(other.ID, &stripe.CustomerParams{InvoiceSettings: &stripe.CustomerInvoiceSettingsParams{DefaultPaymentMethod: stripe.String(pmID)}}); err == nil {
		t.Fatal("default_payment_method of another customer's card accepted")
	}
	up, err := env.sc.Customers.Update(cus.ID, &stripe.CustomerParams{InvoiceSettings: &stripe.CustomerInvoiceSettingsParams{DefaultPaymentMethod: stripe.String(pmID)}})
	if err != nil || up.InvoiceSettings.DefaultPaymentMethod == nil || up.InvoiceSettings.DefaultPaymentMethod.ID != pmID {
		t.Fatalf("set default: %v %+v", err, up)
	}

	// Attach: same customer is a no-op, another customer is a 400.
	if _, err := env.sc.PaymentMethods.Attach(pmID, &stripe.PaymentMethodAttachParams{Customer: stripe.String(cus.ID)}); err != nil {
		t.Fatalf("re-attach to the same customer: %v", err)
	}
	_, err = env.sc.PaymentMethods.Attach(pmID, &stripe.PaymentMethodAttachParams{Customer: stripe.String(other.ID)})
	if se := stripeErr(t, err); se.HTTPStatusCode != 400 {
		t.Fatalf("attach to another customer: %+v", se)
	}
	// Charging it for the other customer is refused.
	if _, err := env.chargeOffSession(other.ID, pmID, 1000); stripeErr(t, err).HTTPStatusCode != 400 {
		t.Fatal("charged another customer's card")
	}
	// Amount below the minimum.
	if _, err := env.chargeOffSession(cus.ID, pmID, 10); stripeErr(t, err).Param != "amount" {
		t.Fatalf("small amount: %v", err)
	}

	// Update the card's expiry.
	upd, err := env.sc.PaymentMethods.Update(pmID, &stripe.PaymentMethodParams{Card: &stripe.PaymentMethodCardParams{ExpMonth: stripe.Int64(3), ExpYear: stripe.Int64(int64(time.Now().Year() + 5))}})
	if err != nil || upd.Card.ExpMonth != 3 {
		t.Fatalf("update card: %v", err)
	}

	// Detach: customer becomes null, default is cleared, event emitted.
	det, err := env.sc.PaymentMethods.Detach(pmID, nil)
	if err != nil || det.Customer != nil {
		t.Fatalf("detach: %v %+v", err, det)
	}
	got, _ := env.sc.Customers.Get(cus.ID, nil)
	if got.InvoiceSettings.DefaultPaymentMethod != nil {
		t.Errorf("default payment method kept after detach")
	}
	types := env.eventTypes()
	for _, want := range []string{"payment_method.updated", "payment_method.detached", "customer.updated"} {
		if !contains(types, want) {
			t.Errorf("no %s event in %v", want, types)
		}
	}

	// Customers list by email; delete.
	it := env.sc.Customers.List(&stripe.CustomerListParams{Email: stripe.String("other@example.com")})
	n := 0
	for it.Next() {
		n++
		if it.Customer().ID != other.ID {
			t.Errorf("listed %s", it.Customer().ID)
		}
	}
	if n != 1 {
		t.Fatalf("email filter: %d customers", n)
	}
	if _, err := env.sc.Customers.Del(other.ID, nil); err != nil {
		t.Fatal(err)
	}
	del, err := env.sc.Customers.Get(other.ID, nil)
	if err != nil || !del.Deleted {
		t.Fatalf("get deleted: %v %+v", err, del)
	}
	if _, err := env.sc.Customers.Get("cus_missing", nil); stripeErr(t, err).Code != stripe.ErrorCodeResourceMissing {
		t.Fatalf("missing customer: %v", err)
	}
}

func TestSessionParamsAndExpiry(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Now()}
	env := newEnv(t, stripeemu.Options{Now: clock.Now})

	cases := []struct {
		name, body, param string
	}{
		{"no mode", "success_url=https%3A%2F%2Fa.example%2F&currency=usd", "mode"},
		{"setup without currency", "mode=setup&success_url=https%3A%2F%2Fa.example%2F", "currency"},
		{"no success_url", "mode=setup&currency=usd", "success_url"},
		{"bad success_url", "mode=setup&currency=usd&success_url=nope", "success_url"},
		{"unknown customer", "mode=setup&currency=usd&success_url=https%3A%2F%2Fa.example%2F&customer=cus_nope", "customer"},
		{"payment without line items", "mode=payment&success_url=https%3A%2F%2Fa.example%2F", "line_items"},
		{"line item without quantity", "mode=payment&success_url=https%3A%2F%2Fa.example%2F&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=100&line_items[0][price_data][product_data][name]=x", "line_items[0][quantity]"},
		{"bad setup_future_usage", "mode=payment&success_url=https%3A%2F%2Fa.example%2F&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=100&line_items[0][price_data][product_data][name]=x&line_items[0][quantity]=1&payment_intent_data[setup_future_usage]=sometimes", "payment_intent_data[setup_future_usage]"},
	}
	for _, tc := range cases {
		code, _, m := env.do("POST", "/v1/checkout/sessions", tc.body, nil)
		e, _ := m["error"].(map[string]any)
		if code != 400 || e == nil || e["type"] != "invalid_request_error" || e["param"] != tc.param {
			t.Errorf("%s: %d %v", tc.name, code, m)
		}
	}
	// payment_method_types instead of currency is fine in setup mode.
	code, _, m := env.do("POST", "/v1/checkout/sessions", "mode=setup&payment_method_types[]=card&success_url=https%3A%2F%2Fa.example%2F", nil)
	if code != 200 {
		t.Fatalf("payment_method_types: %d %v", code, m)
	}
	// Zero-decimal currencies show no decimals.
	jpy := env.paymentSession("", 1500, "jpy")
	if p := newBrowser(t).get(jpy.URL); !strings.Contains(p.body, "¥1,500") {
		t.Errorf("jpy amount not shown as ¥1,500")
	}

	// Sessions list, filtered by customer.
	cus := env.customer("list@example.com")
	mine := env.setupSession(cus.ID)
	it := env.sc.CheckoutSessions.List(&stripe.CheckoutSessionListParams{Customer: stripe.String(cus.ID)})
	var listed []string
	for it.Next() {
		listed = append(listed, it.CheckoutSession().ID)
	}
	if it.Err() != nil || len(listed) != 1 || listed[0] != mine.ID {
		t.Fatalf("sessions list: %v %v", it.Err(), listed)
	}

	// Expire by API; only open sessions.
	s := env.setupSession("")
	if ex, err := env.sc.CheckoutSessions.Expire(s.ID, nil); err != nil || ex.Status != stripe.CheckoutSessionStatusExpired {
		t.Fatalf("expire: %v", err)
	}
	if _, err := env.sc.CheckoutSessions.Expire(s.ID, nil); stripeErr(t, err).HTTPStatusCode != 400 {
		t.Fatal("expired twice")
	}
	if p := newBrowser(t).get(s.URL); p.status != http.StatusGone || !strings.Contains(p.body, "expired") {
		t.Errorf("expired page: %d", p.status)
	}
	if err := env.emu.CompleteCheckout(context.Background(), s.ID, testCards()[0].card("a@example.com")); err == nil || !strings.Contains(err.Error(), "not open") {
		t.Errorf("complete expired session: %v", err)
	}
	if err := env.emu.CompleteCheckout(context.Background(), "cs_test_nope", testCards()[0].card("a@example.com")); err == nil || !strings.Contains(err.Error(), "no such object") {
		t.Errorf("complete unknown session: %v", err)
	}

	// Expire by time: 24 hours later the session is expired, with an event.
	s = env.setupSession("")
	clock.Add(24*time.Hour + time.Second)
	got, err := env.sc.CheckoutSessions.Get(s.ID, nil)
	if err != nil || got.Status != stripe.CheckoutSessionStatusExpired {
		t.Fatalf("after 24h: %v %v", err, got.Status)
	}
	if types := env.eventTypes(); !contains(types, "checkout.session.expired") {
		t.Errorf("events = %v", types)
	}
}

func TestPageValidation(t *testing.T) {
	t.Parallel()
	env := newEnv(t, stripeemu.Options{})
	sess := env.setupSession("")
	b := newBrowser(t)
	past := fmt.Sprintf("01 / %02d", (time.Now().Year()-1)%100)
	cases := []struct {
		name    string
		form    url.Values
		field   string
		message string
	}{
		{"no email", url.Values{"cardNumber": {"4242424242424242"}, "cardExpiry": {futureExpiry()}, "cardCvc": {"123"}}, "email", "Your email is incomplete."},
		{"bad email", url.Values{"email": {"not-an-email"}, "cardNumber": {"4242424242424242"}, "cardExpiry": {futureExpiry()}, "cardCvc": {"123"}}, "email", "Your email address is invalid."},
		{"luhn", url.Values{"email": {"a@example.com"}, "cardNumber": {"4242 4242 4242 4241"}, "cardExpiry": {futureExpiry()}, "cardCvc": {"123"}}, "cardNumber", "Your card number is invalid."},
		{"short number", url.Values{"email": {"a@example.com"}, "cardNumber": {"4242"}, "cardExpiry": {futureExpiry()}, "cardCvc": {"123"}}, "cardNumber", "Your card number is incomplete."},
		{"past expiry", url.Values{"email": {"a@example.com"}, "cardNumber": {"4242424242424242"}, "cardExpiry": {past}, "cardCvc": {"123"}}, "cardExpiry", "Your card&#39;s expiration year is in the past."},
		{"bad month", url.Values{"email": {"a@example.com"}, "cardNumber": {"4242424242424242"}, "cardExpiry": {"13/40"}, "cardCvc": {"123"}}, "cardExpiry", "Your card&#39;s expiration date is invalid."},
		{"short cvc", url.Values{"email": {"a@example.com"}, "cardNumber": {"4242424242424242"}, "cardExpiry": {futureExpiry()}, "cardCvc": {"12"}}, "cardCvc", "Your card&#39;s security code is incomplete."},
		{"amex needs 4", url.Values{"email": {"a@example.com"}, "cardNumber": {"378282246310005"}, "cardExpiry": {futureExpiry()}, "cardCvc": {"123"}}, "cardCvc", "Your card&#39;s security code is incomplete."},
	}
	for _, tc := range cases {
		p := b.post(sess.URL, tc.form)
		if p.status != http.StatusOK || !strings.Contains(p.body, `id="`+tc.field+`-error"`) || !strings.Contains(p.body, tc.message) {
			t.Errorf("%s: %d, want %q next to #%s\n", tc.name, p.status, tc.message, tc.field)
		}
		if e := tc.form.Get("email"); e != "" && !strings.Contains(p.body, `value="`+e+`"`) {
			t.Errorf("%s: email input not kept", tc.name)
		}
		if x := tc.form.Get("cardExpiry"); !strings.Contains(p.body, `value="`+x+`"`) {
			t.Errorf("%s: expiry input not kept", tc.name)
		}
	}
	if s, _ := env.sc.CheckoutSessions.Get(sess.ID, nil); s.Status != stripe.CheckoutSessionStatusOpen {
		t.Fatalf("validation errors changed the session: %s", s.Status)
	}
	// The page has Stripe's element ids and a cancel link.
	p := b.get(sess.URL)
	for _, want := range []string{`id="email"`, `id="cardNumber"`, `id="cardExpiry"`, `id="cardCvc"`, `id="billingName"`, `type="submit"`, `href="https://shop.example/cancel"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if p := b.get(env.srv.URL + "/c/pay/cs_test_unknown"); p.status != http.StatusNotFound {
		t.Errorf("unknown session page: %d", p.status)
	}
	// A forged or reused auth token does not complete anything.
	if p := b.post(sess.URL, url.Values{"auth_token": {"forged"}, "auth_action": {"complete"}}); p.status != http.StatusOK || !strings.Contains(p.body, "expired") {
		t.Errorf("forged auth token: %d", p.status)
	}
}

func TestErrorsHaveStripeShape(t *testing.T) {
	t.Parallel()
	env := newEnv(t, stripeemu.Options{})
	cases := []struct {
		name, method, path, body string
		hdr                      map[string]string
		status                   int
		param, code              string
		message                  string
	}{
		{name: "no key", method: "GET", path: "/v1/customers", hdr: map[string]string{"Authorization": ""}, status: 401},
		{name: "publishable key", method: "GET", path: "/v1/customers", hdr: map[string]string{"Authorization": "Bearer pk_test_123"}, status: 401},
		{name: "unknown route", method: "GET", path: "/v1/foo", status: 404, message: "Unrecognized request URL (GET: /v1/foo)"},
		{name: "wrong method", method: "PUT", path: "/v1/customers", status: 404, message: "Unrecognized request URL (PUT: /v1/customers)"},
		{name: "unknown customer", method: "GET", path: "/v1/customers/cus_x", status: 404, param: "id", code: "resource_missing", message: "No such customer: 'cus_x'"},
		{name: "unknown session", method: "GET", path: "/v1/checkout/sessions/cs_x", status: 404, code: "resource_missing"},
		{name: "unknown payment method", method: "GET", path: "/v1/payment_methods/pm_x", status: 404, code: "resource_missing"},
		{name: "unknown payment intent", method: "GET", path: "/v1/payment_intents/pi_x", status: 404, code: "resource_missing"},
		{name: "unknown event", method: "GET", path: "/v1/events/evt_x", status: 404, code: "resource_missing"},
		{name: "bad limit", method: "GET", path: "/v1/events?limit=1000", status: 400, param: "limit"},
		{name: "bad cursor", method: "GET", path: "/v1/events?starting_after=evt_nope", status: 400, param: "starting_after"},
		{name: "amount not integer", method: "POST", path: "/v1/payment_intents", body: "amount=ten&currency=usd", status: 400, param: "amount"},
		{name: "missing amount", method: "POST", path: "/v1/payment_intents", body: "currency=usd", status: 400, param: "amount", code: "parameter_missing"},
		{name: "bad brackets", method: "POST", path: "/v1/customers", body: "metadata[a=1", status: 400},
		{name: "conflicting keys", method: "POST", path: "/v1/customers", body: "metadata=x&metadata[a]=1", status: 400},
		{name: "attach without customer", method: "POST", path: "/v1/payment_methods/pm_x/attach", status: 400, param: "customer"},
	}
	for _, tc := range cases {
		code, h, m := env.do(tc.method, tc.path, tc.body, tc.hdr)
		e, _ := m["error"].(map[string]any)
		switch {
		case code != tc.status, e == nil, e["type"] == nil, e["message"] == nil:
			t.Errorf("%s: %d %v", tc.name, code, m)
		case tc.param != "" && e["param"] != tc.param,
			tc.code != "" && e["code"] != tc.code,
			tc.message != "" && !strings.Contains(e["message"].(string), tc.message):
			t.Errorf("%s: error %v", tc.name, e)
		case !strings.HasPrefix(h.Get("Request-Id"), "req_"):
			t.Errorf("%s: Request-Id %q", tc.name, h.Get("Request-Id"))
		}
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	env := newEnv(t, stripeemu.Options{RateLimit: 3})

	// A burst of three passes; soon after, a request is refused in Stripe's
	// words, before it runs, so its idempotency key is not kept.
	for i := range 3 {
		if code, _, m := env.do("POST", "/v1/customers", fmt.Sprintf("email=r%d%%40example.com", i), nil); code != 200 {
			t.Fatalf("request %d within the burst: %d %v", i, code, m)
		}
	}
	hdr := map[string]string{"Idempotency-Key": "rate-1"}
	var (
		code int
		h    http.Header
		m    map[string]any
	)
	for range 10 {
		if code, h, m = env.do("POST", "/v1/customers", "email=late%40example.com", hdr); code != 200 {
			break
		}
		hdr["Idempotency-Key"] += "x"
	}
	e, _ := m["error"].(map[string]any)
	if code != http.StatusTooManyRequests || e["type"] != "invalid_request_error" || e["code"] != "rate_limit" ||
		!strings.HasPrefix(fmt.Sprint(e["message"]), "Request rate limit exceeded.") || h.Get("Stripe-Should-Retry") != "true" {
		t.Fatalf("over the limit: %d %v, Stripe-Should-Retry %q", code, m, h.Get("Stripe-Should-Retry"))
	}
	// stripe-go reads it as Stripe's.
	_, err := env.sc.Customers.New(&stripe.CustomerParams{Email: stripe.String("other@example.com")})
	if se := stripeErr(t, err); se.HTTPStatusCode != http.StatusTooManyRequests || se.Code != stripe.ErrorCodeRateLimit {
		t.Fatalf("stripe-go's error: %+v", se)
	}

	// Sent again with the same key once the bucket refills, it runs, once.
	resend := func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			code, h, m = env.do("POST", "/v1/customers", "email=late%40example.com", hdr)
			if code != http.StatusTooManyRequests || time.Now().After(deadline) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	resend()
	if code != 200 || h.Get("Idempotent-Replayed") != "" {
		t.Fatalf("sent again: %d %v, replayed %q", code, m, h.Get("Idempotent-Replayed"))
	}
	if resend(); code != 200 || h.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the request that ran was not kept under its key: %d %v", code, m)
	}
}
