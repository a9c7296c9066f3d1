package stripeapi_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeapi"
)

// ids names the objects a call refers to: stripe-mock accepts any, the
// emulator needs real ones (see emulatorIDs).
type ids struct {
	Customer, Session, SetupIntent, PaymentMethod, UnattachedPaymentMethod, Event, PaymentIntent string
	// OpenSession is a payment-mode session nobody has paid, for the expire call.
	OpenSession string
	// UnpaidPaymentIntent is one that can still be cancelled.
	UnpaidPaymentIntent string
	// PaidPaymentIntent is paid and not refunded, for a partial refund;
	// Refund and Charge are a refund and the charge it refunded part of.
	PaidPaymentIntent, Refund, Charge string
}

var stripeMockIDs = ids{
	Customer: "cus_123", Session: "cs_test_a1b2c3", SetupIntent: "seti_123",
	PaymentMethod: "pm_123", UnattachedPaymentMethod: "pm_456", Event: "evt_123", PaymentIntent: "pi_123",
	OpenSession: "cs_test_open1", UnpaidPaymentIntent: "pi_456", PaidPaymentIntent: "pi_123", Refund: "re_123", Charge: "ch_123",
}

// gatewayCall is one Gateway method called the way the app calls it, with
// the JSON fields of Stripe's answer that the app reads.
type gatewayCall struct {
	method string // the billing.Gateway method it exercises
	op     string // the operation the gateway counts
	reads  []string
	call   func(ctx context.Context, g *stripeapi.Gateway, id ids) error
}

// gatewayCalls is every call the app makes to Stripe. A Gateway method with
// no row here fails TestContractCoversEveryGatewayMethod.
var gatewayCalls = []gatewayCall{
	{"CreateCustomer", stripeapi.OpCreateCustomer, []string{"id"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.CreateCustomer(ctx, "ann@example.com", billing.CustomerIdempotencyKey("ann@example.com", 0))
			return err
		}},
	{"CreateSetupSession", stripeapi.OpCreateSession, []string{"id", "mode", "status", "currency", "url"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.CreateSetupSession(ctx, billing.SetupSessionParams{
				StripeCustomerID: id.Customer,
				Currency:         "usd",
				SuccessURL:       "http://localhost:4242/success?session_id={CHECKOUT_SESSION_ID}",
				CancelURL:        "http://localhost:4242/cancel",
				IdempotencyKey:   "setup-session-1",
				Metadata:         map[string]string{"order_id": "1042"},
			})
			return err
		}},
	// A new customer's session names no Customer yet: one is made when a card is saved.
	{"CreateSetupSession", stripeapi.OpCreateSession, []string{"id", "mode", "status", "currency", "url", "customer_email"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.CreateSetupSession(ctx, billing.SetupSessionParams{
				CustomerEmail:  "new@example.com",
				Currency:       "usd",
				SuccessURL:     "http://localhost:4242/success?session_id={CHECKOUT_SESSION_ID}",
				CancelURL:      "http://localhost:4242/cancel",
				IdempotencyKey: "setup-session-2",
			})
			return err
		}},
	{"RetrieveSession", stripeapi.OpRetrieveSession, []string{
		"id", "mode", "status", "currency", "customer", "customer_details.email",
		"setup_intent.id", "setup_intent.status", "setup_intent.payment_method.id", "setup_intent.payment_method.type",
		"setup_intent.payment_method.created", "setup_intent.payment_method.card.brand", "setup_intent.payment_method.card.last4",
		"setup_intent.payment_method.card.exp_month", "setup_intent.payment_method.card.exp_year",
		"setup_intent.payment_method.card.fingerprint",
	}, func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
		_, err := g.RetrieveSession(ctx, id.Session)
		return err
	}},
	{"AttachPaymentMethod", stripeapi.OpAttachPaymentMethod, []string{"id", "customer"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			return g.AttachPaymentMethod(ctx, id.UnattachedPaymentMethod, id.Customer)
		}},
	{"SetupIntent", stripeapi.OpRetrieveSetupIntent, []string{
		"id", "status", "customer.id", "customer.email", "payment_method.id", "payment_method.card.last4",
	}, func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
		_, err := g.SetupIntent(ctx, id.SetupIntent)
		return err
	}},
	{"PaymentMethod", stripeapi.OpRetrievePaymentMethod, []string{
		"id", "type", "created", "customer.id", "card.brand", "card.last4", "card.exp_month", "card.exp_year",
	}, func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
		_, err := g.PaymentMethod(ctx, id.PaymentMethod)
		return err
	}},
	{"Event", stripeapi.OpRetrieveEvent, []string{"id", "type", "created", "api_version", "data.object.id"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.Event(ctx, id.Event)
			return err
		}},
	{"ListEvents", stripeapi.OpListEvents, []string{"object", "has_more", "data"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.ListEvents(ctx, time.Now().Add(-24*time.Hour), billing.HandledEventTypes())
			return err
		}},
	{"ChargeOffSession", stripeapi.OpCreatePaymentIntent, []string{"id", "status", "amount", "currency", "metadata"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.ChargeOffSession(ctx, billing.OffSessionCharge{
				AttemptID: 42, StripeCustomerID: id.Customer, PaymentMethodID: id.PaymentMethod,
				Money: billing.Money{Amount: 1099, Currency: "usd"}, IdempotencyKey: "charge-attempt-42-key",
			})
			return err
		}},
	{"PaymentIntent", stripeapi.OpRetrievePaymentIntent, []string{"id", "status", "metadata"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.PaymentIntent(ctx, id.PaymentIntent)
			return err
		}},
	// A recovery session carries the lines of the order the failed charge was for.
	{"CreatePaymentSession", stripeapi.OpCreateSession, []string{"id", "url", "mode", "expires_at", "metadata", "amount_total"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.CreatePaymentSession(ctx, billing.PaymentSessionParams{
				AttemptID: 43, StripeCustomerID: id.Customer, Money: billing.Money{Amount: 2548, Currency: "usd"},
				Description: "Order #1042", Items: []billing.LineItem{{Name: "T-shirt", UnitAmount: 1099, Quantity: 2}, {Name: "Mug", UnitAmount: 350, Quantity: 1}},
				SuccessURL: "http://localhost:4242/pay/complete?session_id={CHECKOUT_SESSION_ID}",
				CancelURL:  "http://localhost:4242/pay/token", IdempotencyKey: "recovery-43-key",
			})
			return err
		}},
	{"CreatePaymentSession", stripeapi.OpCreateSession, []string{"id", "url", "mode", "expires_at", "metadata"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.CreatePaymentSession(ctx, billing.PaymentSessionParams{
				AttemptID: 42, StripeCustomerID: id.Customer, Money: billing.Money{Amount: 1099, Currency: "usd"},
				Description: "Payment 42", SuccessURL: "http://localhost:4242/pay/complete?session_id={CHECKOUT_SESSION_ID}",
				CancelURL: "http://localhost:4242/pay/token", IdempotencyKey: "recovery-42-key",
			})
			return err
		}},
	{"SetDefaultPaymentMethod", stripeapi.OpUpdateCustomer, []string{"id", "invoice_settings"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			return g.SetDefaultPaymentMethod(ctx, id.Customer, id.PaymentMethod)
		}},
	{"DetachPaymentMethod", stripeapi.OpDetachPaymentMethod, []string{"id", "type"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			return g.DetachPaymentMethod(ctx, id.UnattachedPaymentMethod)
		}},
	{"ExpireSession", stripeapi.OpExpireSession, []string{"id", "mode", "status", "payment_status", "metadata"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.ExpireSession(ctx, id.OpenSession)
			return err
		}},
	{"RefundPayment", stripeapi.OpCreateRefund, []string{"id", "object", "status", "amount", "currency", "payment_intent"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.RefundPayment(ctx, billing.RefundParams{PaymentIntentID: id.PaymentIntent, Reason: "duplicate", IdempotencyKey: "refund-duplicate-" + id.PaymentIntent})
			return err
		}},
	// A partial refund made here carries its row's id in metadata.
	{"RefundPayment", stripeapi.OpCreateRefund, []string{"id", "status", "amount", "currency", "payment_intent", "metadata"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.RefundPayment(ctx, billing.RefundParams{PaymentIntentID: id.PaidPaymentIntent, Amount: 100, Reason: "requested_by_customer", IdempotencyKey: "refund-order-1042-1", LocalID: 9})
			return err
		}},
	{"Refund", stripeapi.OpRetrieveRefund, []string{"id", "status", "amount", "currency", "payment_intent", "metadata"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.Refund(ctx, id.Refund)
			return err
		}},
	{"Charge", stripeapi.OpRetrieveCharge, []string{"id", "amount_refunded", "payment_intent"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			_, err := g.Charge(ctx, id.Charge)
			return err
		}},
	{"CancelPaymentIntent", stripeapi.OpCancelPaymentIntent, []string{"id", "status"},
		func(ctx context.Context, g *stripeapi.Gateway, id ids) error {
			return g.CancelPaymentIntent(ctx, id.UnpaidPaymentIntent, "cancel-failed-"+id.UnpaidPaymentIntent)
		}},
}

func TestContractCoversEveryGatewayMethod(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range gatewayCalls {
		covered[c.method] = true
	}
	iface := reflect.TypeFor[billing.Gateway]()
	for i := range iface.NumMethod() {
		if name := iface.Method(i).Name; !covered[name] {
			t.Errorf("billing.Gateway.%s has no row in gatewayCalls", name)
		}
	}
}

// TestContractWithStripeMock sends every call to stripe-mock, which rejects
// any request whose path or parameters do not match Stripe's OpenAPI spec.
func TestContractWithStripeMock(t *testing.T) {
	base := startStripeMock(t)
	for _, c := range gatewayCalls {
		t.Run(c.method, func(t *testing.T) {
			g := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_123", APIBase: base})
			if err := c.call(context.Background(), g, stripeMockIDs); err != nil {
				t.Fatalf("stripe-mock rejected %s: %v", c.method, err)
			}
			if got := g.Calls(); got[c.op] != 1 || g.TotalCalls() != 1 {
				t.Errorf("calls = %v, want exactly one %s", got, c.op)
			}
		})
	}
}

func TestStripeErrorsBecomeGatewayErrors(t *testing.T) {
	base := startStripeMock(t)
	// stripe-mock refuses a malformed key as Stripe does: a 401 with Stripe's
	// error body, which must reach billing with its status and operation.
	g := stripeapi.New(stripeapi.Config{SecretKey: "not-a-key", APIBase: base})
	_, err := g.CreateCustomer(context.Background(), "ann@example.com", "k1")
	var ge *billing.GatewayError
	if !errors.As(err, &ge) {
		t.Fatalf("err = %v, want a *billing.GatewayError", err)
	}
	if ge.HTTPStatus != 401 || ge.Op != stripeapi.OpCreateCustomer || ge.Type == "" {
		t.Errorf("GatewayError = %+v, want status 401 from %s with Stripe's error type", ge, stripeapi.OpCreateCustomer)
	}
}
