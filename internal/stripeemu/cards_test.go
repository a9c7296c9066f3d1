package stripeemu_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/stripe/stripe-go/v76"
)

// testCard is one row of DESIGN.md's test-card table.
type testCard struct {
	name     string
	number   string
	cvc      string
	brand    string
	declined string // decline_code at setup; "" when setup succeeds
	needs3DS bool
	// off-session charge outcome: "" succeeds, else the error code and decline code.
	chargeCode, chargeDecline string
}

func testCards() []testCard {
	return []testCard{
		{name: "visa", number: "4242 4242 4242 4242", cvc: "123", brand: "visa"},
		{name: "mastercard", number: "5555 5555 5555 4444", cvc: "123", brand: "mastercard"},
		{name: "amex", number: "3782 822463 10005", cvc: "1234", brand: "amex"},
		{name: "3ds_setup_for_off_session", number: "4000 0025 0000 3155", cvc: "123", brand: "visa", needs3DS: true},
		{name: "3ds_always_authenticate", number: "4000 0027 6000 3184", cvc: "123", brand: "visa", needs3DS: true,
			chargeCode: "authentication_required", chargeDecline: "authentication_required"},
		{name: "attach_ok_charge_declined", number: "4000 0000 0000 0341", cvc: "123", brand: "visa",
			chargeCode: "card_declined", chargeDecline: "generic_decline"},
		{name: "declined", number: "4000 0000 0000 0002", cvc: "123", brand: "visa", declined: "generic_decline"},
		{name: "insufficient_funds", number: "4000 0000 0000 9995", cvc: "123", brand: "visa", declined: "insufficient_funds"},
		{name: "other_luhn_valid", number: "5200 8282 8282 8210", cvc: "123", brand: "mastercard"},
	}
}

func futureExpiry() string {
	return fmt.Sprintf("12 / %02d", (time.Now().Year()+3)%100)
}

func (c testCard) card(email string) stripeemu.Card {
	return stripeemu.Card{Number: c.number, Expiry: futureExpiry(), CVC: c.cvc, Name: "Jenny Rosen", Email: email}
}

// TestTestCardTable runs every test card through CompleteCheckout and through
// the hosted page, then charges the saved card off-session.
func TestTestCardTable(t *testing.T) {
	t.Parallel()
	for _, tc := range testCards() {
		for _, via := range []string{"api", "page"} {
			t.Run(tc.name+"/"+via, func(t *testing.T) {
				t.Parallel()
				env := newEnv(t, stripeemu.Options{})
				cus := env.customer("jenny@example.com")
				sess := env.setupSession(cus.ID)
				if sess.URL == "" || !strings.HasPrefix(sess.URL, env.srv.URL+"/c/pay/cs_test_") {
					t.Fatalf("session url = %q", sess.URL)
				}

				var setupErr error
				switch via {
				case "api":
					setupErr = env.emu.CompleteCheckout(context.Background(), sess.ID, tc.card("jenny@example.com"))
				case "page":
					p := newBrowser(t).payOnPage(sess.URL, tc.card("jenny@example.com"), "complete")
					setupErr = pageOutcome(t, p, sess.ID)
				}

				if tc.declined != "" {
					var ce *stripeemu.CardError
					if !errors.As(setupErr, &ce) || ce.Code != "card_declined" || ce.DeclineCode != tc.declined {
						t.Fatalf("setup error = %v, want card_declined/%s", setupErr, tc.declined)
					}
					got, err := env.sc.CheckoutSessions.Get(sess.ID, nil)
					if err != nil {
						t.Fatal(err)
					}
					if got.Status != stripe.CheckoutSessionStatusOpen {
						t.Errorf("session status after decline = %s, want open", got.Status)
					}
					if types := env.eventTypes(); !contains(types, "setup_intent.setup_failed") || contains(types, "checkout.session.completed") {
						t.Errorf("events after decline = %v", types)
					}
					return
				}
				if setupErr != nil {
					t.Fatalf("setup: %v", setupErr)
				}

				pm := assertSaved(t, env, sess.ID, cus.ID, tc)
				want := []string{"customer.created", "setup_intent.created", "payment_method.attached", "setup_intent.succeeded", "checkout.session.completed"}
				if types := env.eventTypes(); !inOrder(types, want) {
					t.Errorf("events = %v, want in order %v", types, want)
				}

				pi, err := env.chargeOffSession(cus.ID, pm.ID, 1099)
				assertCharge(t, env, tc, pi, err)
			})
		}
	}
}

// pageOutcome turns the page's answer into CompleteCheckout's error shape.
func pageOutcome(t *testing.T, p page, sessionID string) error {
	t.Helper()
	if p.status == http.StatusSeeOther {
		want := "https://shop.example/success?session_id=" + sessionID
		if p.location != want {
			t.Fatalf("redirect to %q, want %q", p.location, want)
		}
		return nil
	}
	if p.status != http.StatusOK {
		t.Fatalf("page status %d\n%s", p.status, p.body)
	}
	switch {
	case strings.Contains(p.body, "Your card has insufficient funds."):
		return &stripeemu.CardError{Code: "card_declined", DeclineCode: "insufficient_funds"}
	case strings.Contains(p.body, "Your card was declined."):
		return &stripeemu.CardError{Code: "card_declined", DeclineCode: "generic_decline"}
	case strings.Contains(p.body, "We are unable to authenticate your payment method"):
		return &stripeemu.CardError{Code: "setup_intent_authentication_failure"}
	}
	t.Fatalf("unexpected page:\n%s", p.body)
	return nil
}

// assertSaved checks the completed session the way the store's /success does:
// one call expanding setup_intent.payment_method.
func assertSaved(t *testing.T, env *env, sessionID, customerID string, tc testCard) *stripe.PaymentMethod {
	t.Helper()
	p := &stripe.CheckoutSessionParams{}
	p.AddExpand("setup_intent.payment_method")
	s, err := env.sc.CheckoutSessions.Get(sessionID, p)
	if err != nil {
		t.Fatalf("get session: %v", err)
	}
	if s.Status != stripe.CheckoutSessionStatusComplete || s.PaymentStatus != stripe.CheckoutSessionPaymentStatusNoPaymentRequired {
		t.Fatalf("session status %s/%s", s.Status, s.PaymentStatus)
	}
	if s.CustomerDetails == nil || s.CustomerDetails.Email != "jenny@example.com" {
		t.Errorf("customer_details = %+v", s.CustomerDetails)
	}
	si := s.SetupIntent
	if si == nil || si.Status != stripe.SetupIntentStatusSucceeded || si.Usage != stripe.SetupIntentUsageOffSession {
		t.Fatalf("setup intent = %+v", si)
	}
	if si.Customer == nil || si.Customer.ID != customerID {
		t.Errorf("setup intent customer = %+v", si.Customer)
	}
	pm := si.PaymentMethod
	digits := strings.ReplaceAll(tc.number, " ", "")
	if pm == nil || pm.Card == nil || string(pm.Card.Brand) != tc.brand || pm.Card.Last4 != digits[len(digits)-4:] {
		t.Fatalf("payment method = %+v", pm)
	}
	if pm.Card.ExpMonth != 12 || pm.Card.ExpYear != int64(time.Now().Year()+3) || len(pm.Card.Fingerprint) != 16 {
		t.Errorf("card = %+v", pm.Card)
	}
	if pm.Customer == nil || pm.Customer.ID != customerID {
		t.Errorf("payment method customer = %+v", pm.Customer)
	}
	if pm.BillingDetails == nil || pm.BillingDetails.Name != "Jenny Rosen" {
		t.Errorf("billing details = %+v", pm.BillingDetails)
	}
	return pm
}

func assertCharge(t *testing.T, env *env, tc testCard, pi *stripe.PaymentIntent, err error) {
	t.Helper()
	if tc.chargeCode == "" {
		if err != nil {
			t.Fatalf("off-session charge: %v", err)
		}
		if pi.Status != stripe.PaymentIntentStatusSucceeded || pi.AmountReceived != 1099 || pi.LatestCharge == nil || !strings.HasPrefix(pi.LatestCharge.ID, "ch_") {
			t.Fatalf("payment intent = status %s received %d charge %+v", pi.Status, pi.AmountReceived, pi.LatestCharge)
		}
		if types := env.eventTypes(); !inOrder(types, []string{"payment_intent.created", "payment_intent.succeeded"}) {
			t.Errorf("events = %v", types)
		}
		return
	}
	se := stripeErr(t, err)
	if se.HTTPStatusCode != http.StatusPaymentRequired || se.Type != stripe.ErrorTypeCard ||
		string(se.Code) != tc.chargeCode || string(se.DeclineCode) != tc.chargeDecline {
		t.Fatalf("charge error = %d %s %s/%s", se.HTTPStatusCode, se.Type, se.Code, se.DeclineCode)
	}
	if se.RequestID == "" || se.Msg == "" {
		t.Errorf("error without request id or message: %+v", se)
	}
	if se.PaymentIntent == nil || se.PaymentIntent.Status != stripe.PaymentIntentStatusRequiresPaymentMethod {
		t.Fatalf("error payment_intent = %+v", se.PaymentIntent)
	}
	if lpe := se.PaymentIntent.LastPaymentError; lpe == nil || string(lpe.Code) != tc.chargeCode || lpe.PaymentMethod == nil || lpe.PaymentMethod.Card == nil {
		t.Errorf("last_payment_error = %+v", lpe)
	}
	if se.PaymentMethod == nil || se.PaymentMethod.ID == "" {
		t.Errorf("error payment_method = %+v", se.PaymentMethod)
	}
	if tc.chargeCode == "card_declined" && !strings.HasPrefix(se.ChargeID, "ch_") {
		t.Errorf("error charge = %q", se.ChargeID)
	}
	stored, err := env.sc.PaymentIntents.Get(se.PaymentIntent.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != stripe.PaymentIntentStatusRequiresPaymentMethod {
		t.Errorf("stored payment intent status = %s", stored.Status)
	}
	if types := env.eventTypes(); !inOrder(types, []string{"payment_intent.created", "payment_intent.payment_failed"}) {
		t.Errorf("events = %v", types)
	}
}

// TestFailedAuthentication fails 3-D Secure, then completes it on a retry.
func TestFailedAuthentication(t *testing.T) {
	t.Parallel()
	for _, via := range []string{"api", "page"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, stripeemu.Options{})
			cus := env.customer("jenny@example.com")
			sess := env.setupSession(cus.ID)
			card := testCard{number: "4000 0027 6000 3184", cvc: "123", brand: "visa"}.card("jenny@example.com")
			b := newBrowser(t)

			var err error
			if via == "api" {
				card.FailAuthentication = true
				err = env.emu.CompleteCheckout(context.Background(), sess.ID, card)
			} else {
				p := b.payOnPage(sess.URL, card, "fail")
				if !strings.Contains(p.body, `id="cardNumber"`) || !strings.Contains(p.body, `value="jenny@example.com"`) {
					t.Fatalf("after a failed authentication the form should come back with the email kept:\n%s", p.body)
				}
				err = pageOutcome(t, p, sess.ID)
			}
			var ce *stripeemu.CardError
			if !errors.As(err, &ce) || ce.Code != "setup_intent_authentication_failure" {
				t.Fatalf("error = %v, want setup_intent_authentication_failure", err)
			}
			if types := env.eventTypes(); !contains(types, "setup_intent.setup_failed") {
				t.Errorf("events = %v", types)
			}
			s, _ := env.sc.CheckoutSessions.Get(sess.ID, nil)
			if s.Status != stripe.CheckoutSessionStatusOpen {
				t.Fatalf("status = %s, want open", s.Status)
			}

			// The same session then succeeds with the authentication completed.
			card.FailAuthentication = false
			if via == "api" {
				err = env.emu.CompleteCheckout(context.Background(), sess.ID, card)
			} else {
				err = pageOutcome(t, b.payOnPage(sess.URL, card, "complete"), sess.ID)
			}
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			s, _ = env.sc.CheckoutSessions.Get(sess.ID, nil)
			if s.Status != stripe.CheckoutSessionStatusComplete {
				t.Fatalf("status = %s, want complete", s.Status)
			}
		})
	}
}

// TestPaymentModeRecovery pays a recovery session in payment mode with
// setup_future_usage, as the store's /pay/{token} does.
func TestPaymentModeRecovery(t *testing.T) {
	t.Parallel()
	env := newEnv(t, stripeemu.Options{})
	cus := env.customer("jenny@example.com")
	sess := env.paymentSession(cus.ID, 1099, "usd")
	if sess.AmountTotal != 1099 || sess.PaymentStatus != stripe.CheckoutSessionPaymentStatusUnpaid || sess.PaymentIntent != nil {
		t.Fatalf("new session = amount %d status %s pi %+v", sess.AmountTotal, sess.PaymentStatus, sess.PaymentIntent)
	}
	b := newBrowser(t)
	p := b.get(sess.URL)
	if !strings.Contains(p.body, "$10.99") || !strings.Contains(p.body, ">Pay<") || !strings.Contains(p.body, `value="jenny@example.com"`) {
		t.Fatalf("payment page lacks amount, Pay button or prefilled email:\n%s", p.body)
	}

	// 0341 is declined when actually charged, on the page too.
	declined := testCard{number: "4000000000000341", cvc: "123"}.card("jenny@example.com")
	p = b.payOnPage(sess.URL, declined, "complete")
	if p.status != http.StatusOK || !strings.Contains(p.body, "Your card was declined.") {
		t.Fatalf("decline not shown: %d\n%s", p.status, p.body)
	}

	// A 3-D Secure card: authenticate, pay, and the card is saved.
	good := testCard{number: "4000002760003184", cvc: "123"}.card("jenny@example.com")
	p = b.payOnPage(sess.URL, good, "complete")
	if p.status != http.StatusSeeOther || p.location != "https://shop.example/paid?session_id="+sess.ID {
		t.Fatalf("after paying: %d %q\n%s", p.status, p.location, p.body)
	}
	sp := &stripe.CheckoutSessionParams{}
	sp.AddExpand("payment_intent.payment_method")
	s, err := env.sc.CheckoutSessions.Get(sess.ID, sp)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != stripe.CheckoutSessionStatusComplete || s.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid {
		t.Fatalf("session %s/%s", s.Status, s.PaymentStatus)
	}
	pi := s.PaymentIntent
	if pi == nil || pi.Status != stripe.PaymentIntentStatusSucceeded || pi.Amount != 1099 || pi.SetupFutureUsage != "off_session" {
		t.Fatalf("payment intent = %+v", pi)
	}
	if pi.PaymentMethod == nil || pi.PaymentMethod.Customer == nil || pi.PaymentMethod.Customer.ID != cus.ID || pi.PaymentMethod.Card.Last4 != "3184" {
		t.Fatalf("payment method = %+v", pi.PaymentMethod)
	}
	want := []string{"payment_intent.created", "payment_intent.payment_failed", "payment_method.attached", "payment_intent.succeeded", "checkout.session.completed"}
	if types := env.eventTypes(); !inOrder(types, want) {
		t.Errorf("events = %v, want in order %v", types, want)
	}
	// The page of a completed session says so.
	if p := b.get(sess.URL); !strings.Contains(p.body, "already complete") {
		t.Errorf("completed session page:\n%s", p.body)
	}
}

// TestSessionWithoutCustomer leaves the card unattached for the store to attach.
func TestSessionWithoutCustomer(t *testing.T) {
	t.Parallel()
	env := newEnv(t, stripeemu.Options{})
	s, err := env.sc.CheckoutSessions.New(&stripe.CheckoutSessionParams{
		Mode:          stripe.String("setup"),
		Currency:      stripe.String("usd"),
		CustomerEmail: stripe.String("anon@example.com"),
		SuccessURL:    stripe.String("https://shop.example/success?session_id={CHECKOUT_SESSION_ID}"),
	})
	if err != nil {
		t.Fatal(err)
	}
	p := newBrowser(t).get(s.URL)
	if !strings.Contains(p.body, `value="anon@example.com"`) || !strings.Contains(p.body, "Save your card") || !strings.Contains(p.body, ">Save card<") {
		t.Fatalf("setup page:\n%s", p.body)
	}
	if err := env.emu.CompleteCheckout(context.Background(), s.ID, testCards()[0].card("typed@example.com")); err != nil {
		t.Fatal(err)
	}
	gp := &stripe.CheckoutSessionParams{}
	gp.AddExpand("setup_intent.payment_method")
	got, err := env.sc.CheckoutSessions.Get(s.ID, gp)
	if err != nil {
		t.Fatal(err)
	}
	if got.Customer != nil || got.CustomerDetails.Email != "typed@example.com" || got.SetupIntent.PaymentMethod.Customer != nil {
		t.Fatalf("customer %+v details %+v pm customer %+v", got.Customer, got.CustomerDetails, got.SetupIntent.PaymentMethod.Customer)
	}
	// The store attaches it to a customer found by email, then charges it.
	cus := env.customer("typed@example.com")
	pmID := got.SetupIntent.PaymentMethod.ID
	if _, err := env.sc.PaymentMethods.Attach(pmID, &stripe.PaymentMethodAttachParams{Customer: stripe.String(cus.ID)}); err != nil {
		t.Fatal(err)
	}
	if pi, err := env.chargeOffSession(cus.ID, pmID, 500); err != nil || pi.Status != stripe.PaymentIntentStatusSucceeded {
		t.Fatalf("charge: %v", err)
	}
}
