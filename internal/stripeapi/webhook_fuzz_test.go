package stripeapi_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/storefront/storefront/internal/stripeapi"
)

const fuzzSecret = "whsec_fuzz"

// verifyOutcome checks what Verify must guarantee for any input: a refusal
// is one of its two errors (the webhook answers 400), and an accepted event
// is one the ledger can store.
func verifyOutcome(t *testing.T, v *stripeapi.WebhookVerifier, payload []byte, header string) {
	t.Helper()
	e, err := v.Verify(payload, header)
	if err != nil {
		if !errors.Is(err, stripeapi.ErrBadSignature) && !errors.Is(err, stripeapi.ErrMalformedEvent) {
			t.Fatalf("Verify: %v is neither a bad signature nor a malformed event", err)
		}
		return
	}
	if merr := e.Malformed(); merr != nil {
		t.Fatalf("Verify accepted an event the ledger cannot store: %v", merr)
	}
}

// FuzzVerifySignatureHeader varies the Stripe-Signature header of a good body.
func FuzzVerifySignatureHeader(f *testing.F) {
	body := []byte(`{"id":"evt_1","object":"event","type":"checkout.session.completed","created":1,"data":{"object":{"id":"cs_test_1"}}}`)
	good := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: fuzzSecret, Timestamp: time.Now()}).Header
	for _, h := range []string{good, "", "t=", "t=1,v1=", "v1=abc", "t=99999999999999999999,v1=00", "t=-1,v1=zz", good + ",v1=00", "t=1,t=2,v0=1"} {
		f.Add(h)
	}
	v := stripeapi.NewWebhookVerifier(fuzzSecret)
	f.Fuzz(func(t *testing.T, header string) {
		verifyOutcome(t, v, body, header)
	})
}

// FuzzVerifyEvent signs arbitrary bodies correctly, so the event parser and
// its checks are what is exercised.
func FuzzVerifyEvent(f *testing.F) {
	for _, b := range []string{
		`{"id":"evt_1","object":"event","type":"checkout.session.completed","created":1,"data":{"object":{"id":"cs_test_1"}}}`,
		`{"id":"evt_\u0000","type":"x.y","data":{"object":{"id":"cs_1"}}}`,
		`{"id":"evt_2","type":"a.b","api_version":"2023-10-16","data":{"object":{"id":"cs_\u0000"}}}`,
		`{"id":"evt_3","type":"","data":null}`,
		`{"id":"evt_4","type":"a.b","data":{"object":{"id":123}}}`,
		"{\"id\":\"evt_5\",\"type\":\"a.b\"}\xff",
		`[]`, `null`, ``,
	} {
		f.Add([]byte(b))
	}
	v := stripeapi.NewWebhookVerifier(fuzzSecret)
	f.Fuzz(func(t *testing.T, payload []byte) {
		header := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: fuzzSecret, Timestamp: time.Now()}).Header
		verifyOutcome(t, v, payload, header)
	})
}

// FuzzVerifyParsesAsStripeGo checks that Verify's own parse of a signed body
// accepts what stripe-go's ConstructEvent accepts, refuses what it refuses,
// and reads the same id, type, version, time and object id.
func FuzzVerifyParsesAsStripeGo(f *testing.F) {
	for _, b := range []string{
		`{"id":"evt_1","object":"event","type":"checkout.session.completed","created":1,"data":{"object":{"id":"cs_test_1"}}}`,
		`{"id":"evt_2","type":"a.b","api_version":"2023-10-16","data":{"object":{"id":123}}}`,
		`{"id":"evt_3","type":"a.b","data":{}}`,
		`{"id":"evt_4","type":"a.b","data":{"object":null}}`,
		`{"id":"evt_5","type":"a.b","data":{"object":[]}}`,
		`{"id":"evt_6","type":"a.b","data":null}`,
		`{"id":"evt_7","type":"a.b","created":"1"}`,
		`{"ID":"evt_8","TYPE":"a.b","Data":{"Object":{"ID":"cs_1"}}}`,
		`null`, `[]`, ``,
	} {
		f.Add([]byte(b))
	}
	v := stripeapi.NewWebhookVerifier(fuzzSecret)
	f.Fuzz(func(t *testing.T, payload []byte) {
		header := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: fuzzSecret, Timestamp: time.Now()}).Header
		want, wantErr := webhook.ConstructEventWithOptions(payload, header, fuzzSecret, webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
		got, err := v.Verify(payload, header)
		if errors.Is(err, stripeapi.ErrMalformedEvent) {
			return // refused after parsing, by the ledger's rules
		}
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Verify error %v, stripe-go error %v", err, wantErr)
		}
		if err != nil {
			return
		}
		wantObjectID := ""
		if want.Data != nil {
			wantObjectID, _ = want.Data.Object["id"].(string)
		}
		if got.ID != want.ID || got.Type != string(want.Type) || got.APIVersion != want.APIVersion ||
			got.Created.Unix() != want.Created || got.ObjectID != wantObjectID {
			t.Fatalf("Verify read %+v, stripe-go %+v (object id %q)", got, want, wantObjectID)
		}
	})
}
