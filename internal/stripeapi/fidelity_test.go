package stripeapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit/stripespec"
)

// recorder keeps the body of the last response, so a test can look at the
// JSON that stripe-go parsed.
type recorder struct {
	mu   sync.Mutex
	last []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.last = body
	r.mu.Unlock()
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}

func (r *recorder) lastJSON(t *testing.T) map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var doc map[string]any
	if err := json.Unmarshal(r.last, &doc); err != nil {
		t.Fatalf("answer is not a JSON object: %v\n%s", err, r.last)
	}
	return doc
}

// jsonType names the JSON type at a dotted path, or "missing"/"null".
func jsonType(doc map[string]any, path string) string {
	var v any = doc
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "missing"
		}
		if v, ok = m[key]; !ok {
			return "missing"
		}
	}
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	default:
		return "object"
	}
}

// emulatorIDs makes, on the emulator, the objects the calls refer to: a
// customer with a card saved through a completed setup session, and a card
// from a session without a customer, not attached yet.
func emulatorIDs(t *testing.T, emu *stripeemu.Emulator, g *stripeapi.Gateway) ids {
	t.Helper()
	ctx := context.Background()
	customer, err := g.CreateCustomer(ctx, "fidelity@example.com", "fidelity-customer")
	if err != nil {
		t.Fatal(err)
	}
	session := func(stripeCustomer string) billing.SessionState {
		s, err := g.CreateSetupSession(ctx, billing.SetupSessionParams{
			StripeCustomerID: stripeCustomer, Currency: "usd",
			SuccessURL: "http://localhost/success?session_id={CHECKOUT_SESSION_ID}", CancelURL: "http://localhost/cancel",
		})
		if err != nil {
			t.Fatal(err)
		}
		card := stripeemu.Card{Number: "4242424242424242", Expiry: "12 / 34", CVC: "123", Name: "Fi Delity", Email: "fidelity@example.com"}
		if err := emu.CompleteCheckout(ctx, s.ID, card); err != nil {
			t.Fatal(err)
		}
		state, err := g.RetrieveSession(ctx, s.ID)
		if err != nil || state.PaymentMethod == nil {
			t.Fatalf("completed session %s: %+v, %v", s.ID, state, err)
		}
		return state
	}
	saved := session(customer)
	loose := session("")
	events, err := g.ListEvents(ctx, saved.SyncedAt.Add(-60e9), billing.HandledEventTypes())
	if err != nil || len(events) == 0 {
		t.Fatalf("no events on the emulator: %v", err)
	}
	charged, err := g.ChargeOffSession(ctx, billing.OffSessionCharge{
		AttemptID: 7, StripeCustomerID: customer, PaymentMethodID: saved.PaymentMethod.ID,
		Money: billing.Money{Amount: 500, Currency: "usd"}, IdempotencyKey: "fidelity-charge-key",
	})
	if err != nil {
		t.Fatal(err)
	}
	open, err := g.CreatePaymentSession(ctx, billing.PaymentSessionParams{
		AttemptID: 7, StripeCustomerID: customer, Money: billing.Money{Amount: 500, Currency: "usd"}, Description: "Payment 7",
		SuccessURL: "http://localhost/pay/complete?session_id={CHECKOUT_SESSION_ID}", CancelURL: "http://localhost/pay/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	// A PaymentIntent nobody confirmed, as a failed charge leaves one: the cancel call's.
	req := httptest.NewRequest(http.MethodPost, "/v1/payment_intents", strings.NewReader("amount=500&currency=usd&payment_method_types[]=card"))
	req.Header.Set("Authorization", "Bearer sk_test_123")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	emu.Handler().ServeHTTP(rec, req)
	var unpaid struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &unpaid); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("unpaid PaymentIntent: %d %s", rec.Code, rec.Body)
	}
	paid := func(key string) string {
		c, err := g.ChargeOffSession(ctx, billing.OffSessionCharge{
			AttemptID: 8, StripeCustomerID: customer, PaymentMethodID: saved.PaymentMethod.ID,
			Money: billing.Money{Amount: 2198, Currency: "usd"}, IdempotencyKey: key,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c.PaymentIntentID
	}
	refunded, err := g.RefundPayment(ctx, billing.RefundParams{PaymentIntentID: paid("fidelity-refunded-key"), Amount: 500, Reason: "requested_by_customer", IdempotencyKey: "fidelity-refund-key"})
	if err != nil {
		t.Fatal(err)
	}
	req = httptest.NewRequest(http.MethodGet, "/v1/refunds/"+refunded.ID, nil)
	req.Header.Set("Authorization", "Bearer sk_test_123")
	rec = httptest.NewRecorder()
	emu.Handler().ServeHTTP(rec, req)
	var refund struct {
		Charge string `json:"charge"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &refund); err != nil || refund.Charge == "" {
		t.Fatalf("refund %s: %d %s", refunded.ID, rec.Code, rec.Body)
	}
	return ids{
		PaidPaymentIntent: paid("fidelity-paid-key"), Refund: refunded.ID, Charge: refund.Charge,
		UnpaidPaymentIntent: unpaid.ID,
		Customer:            customer, Session: saved.ID, SetupIntent: saved.SetupIntentID,
		PaymentMethod: saved.PaymentMethod.ID, UnattachedPaymentMethod: loose.PaymentMethod.ID, Event: events[0].ID,
		PaymentIntent: charged.PaymentIntentID, OpenSession: open.ID,
	}
}

// TestFidelityEmulatorMatchesStripeMock sends the same table of calls to
// stripe-mock (Stripe's spec) and to the emulator: both must accept each,
// stripe-go must parse both, and every field the app reads must be present
// in both answers, with the same JSON type wherever stripe-mock's is not null.
func TestFidelityEmulatorMatchesStripeMock(t *testing.T) {
	mockBase := startStripeMock(t)
	emu := stripeemu.New(stripeemu.Options{})
	emuServer := httptest.NewServer(stripespec.Checked(t, emu.Handler()))
	emu.SetPublicURL(emuServer.URL)
	t.Cleanup(func() { emuServer.Close(); emu.Close() })

	mockRec, emuRec := &recorder{}, &recorder{}
	mock := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_123", APIBase: mockBase, HTTPClient: &http.Client{Transport: mockRec}})
	emulated := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_123", APIBase: emuServer.URL, HTTPClient: &http.Client{Transport: emuRec}})
	emuIDs := emulatorIDs(t, emu, emulated)

	for _, c := range gatewayCalls {
		t.Run(c.method, func(t *testing.T) {
			ctx := context.Background()
			if err := c.call(ctx, mock, stripeMockIDs); err != nil {
				t.Fatalf("stripe-mock: %v", err)
			}
			if err := c.call(ctx, emulated, emuIDs); err != nil {
				t.Fatalf("emulator: %v", err)
			}
			mockDoc, emuDoc := mockRec.lastJSON(t), emuRec.lastJSON(t)
			for _, path := range c.reads {
				want, got := jsonType(mockDoc, path), jsonType(emuDoc, path)
				// stripe-mock's fixtures leave nullable fields null; the
				// emulator fills them as real Stripe does for these objects.
				if got == "missing" || want == "missing" || (want != "null" && got != want) {
					t.Errorf("%s: emulator has %s, stripe-mock has %s", path, got, want)
				}
			}
		})
	}
	if fmt.Sprint(mock.Operations()) != fmt.Sprint(emulated.Operations()) {
		t.Errorf("operations differ: %v vs %v", mock.Operations(), emulated.Operations())
	}
}
