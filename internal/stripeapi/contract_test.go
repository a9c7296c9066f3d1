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

// gatewayCall is one Gateway method called the way the app calls it.
type gatewayCall struct {
	method string // the billing.Gateway method it exercises
	op     string // the operation the gateway counts
	call   func(ctx context.Context, g *stripeapi.Gateway) error
}

// gatewayCalls is every call the app makes to Stripe. A Gateway method with
// no row here fails TestContractCoversEveryGatewayMethod.
var gatewayCalls = []gatewayCall{
	{"CreateCustomer", stripeapi.OpCreateCustomer, func(ctx context.Context, g *stripeapi.Gateway) error {
		_, err := g.CreateCustomer(ctx, "ann@example.com", "customer-7f8e2c1a")
		return err
	}},
	{"CreateSetupSession", stripeapi.OpCreateSession, func(ctx context.Context, g *stripeapi.Gateway) error {
		_, err := g.CreateSetupSession(ctx, billing.SetupSessionParams{
			StripeCustomerID: "cus_123",
			Currency:         "usd",
			SuccessURL:       "http://localhost:4242/success?session_id={CHECKOUT_SESSION_ID}",
			CancelURL:        "http://localhost:4242/cancel",
			IdempotencyKey:   "setup-session-1",
		})
		return err
	}},
	{"SetupSession", stripeapi.OpRetrieveSession, func(ctx context.Context, g *stripeapi.Gateway) error {
		_, err := g.SetupSession(ctx, "cs_test_a1b2c3")
		return err
	}},
	{"AttachPaymentMethod", stripeapi.OpAttachPaymentMethod, func(ctx context.Context, g *stripeapi.Gateway) error {
		return g.AttachPaymentMethod(ctx, "pm_123", "cus_123")
	}},
	{"SetupIntent", stripeapi.OpRetrieveSetupIntent, func(ctx context.Context, g *stripeapi.Gateway) error {
		_, err := g.SetupIntent(ctx, "seti_123")
		return err
	}},
	{"PaymentMethod", stripeapi.OpRetrievePaymentMethod, func(ctx context.Context, g *stripeapi.Gateway) error {
		_, err := g.PaymentMethod(ctx, "pm_123")
		return err
	}},
	{"Event", stripeapi.OpRetrieveEvent, func(ctx context.Context, g *stripeapi.Gateway) error {
		_, err := g.Event(ctx, "evt_123")
		return err
	}},
	{"ListEvents", stripeapi.OpListEvents, func(ctx context.Context, g *stripeapi.Gateway) error {
		_, err := g.ListEvents(ctx, time.Now().Add(-24*time.Hour), billing.HandledEventTypes())
		return err
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
			if err := c.call(context.Background(), g); err != nil {
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
