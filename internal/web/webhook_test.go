package web_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/storefront/storefront/internal/web"
)

func eventJSON(id, typ string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":%q,"created":%d,"type":%q,"data":{"object":{"id":"cs_test_1","object":"checkout.session"}}}`,
		id, stripe.APIVersion, time.Now().Unix(), typ)
}

func signed(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

// signedCase is a correctly signed body that must still be refused with 400.
func signedCase(payload []byte) struct {
	payload   []byte
	signature string
	want      int
} {
	return struct {
		payload   []byte
		signature string
		want      int
	}{payload, signed(payload, webhookSecret, time.Now()), http.StatusBadRequest}
}

func (h *harness) postWebhook(payload []byte, signature string) response {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.store.URL+"/webhook", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	return h.do(req)
}

func TestWebhookVerifiesSignatures(t *testing.T) {
	h := newHarness(t)
	good := eventJSON("evt_1", "checkout.session.completed")
	oversize := append(eventJSON("evt_2", "x"), bytes.Repeat([]byte(" "), web.MaxWebhookBytes)...)
	cases := map[string]struct {
		payload   []byte
		signature string
		want      int
	}{
		"valid":           {good, signed(good, webhookSecret, time.Now()), http.StatusOK},
		"missing header":  {good, "", http.StatusBadRequest},
		"wrong secret":    {good, signed(good, "whsec_other", time.Now()), http.StatusBadRequest},
		"stale timestamp": {good, signed(good, webhookSecret, time.Now().Add(-10*time.Minute)), http.StatusBadRequest},
		"tampered body":   {[]byte(strings.Replace(string(good), "evt_1", "evt_9", 1)), signed(good, webhookSecret, time.Now()), http.StatusBadRequest},
		"not JSON":        {[]byte("hello"), signed([]byte("hello"), webhookSecret, time.Now()), http.StatusBadRequest},
		"oversize":        {oversize, signed(oversize, webhookSecret, time.Now()), http.StatusRequestEntityTooLarge},
		// A future timestamp would keep a captured delivery replayable for longer.
		"future timestamp": {good, signed(good, webhookSecret, time.Now().Add(time.Hour)), http.StatusBadRequest},
		// Signed but never storable: a 5xx would have Stripe retry it for days.
		"id with NUL":        signedCase(eventJSON("evt_\u0000x", "checkout.session.completed")),
		"id not an event id": signedCase(eventJSON("cus_123", "checkout.session.completed")),
		"empty type":         signedCase(eventJSON("evt_3", "")),
		"type with NUL":      signedCase(eventJSON("evt_4", "checkout.session\u0000")),
		"type over-long":     signedCase(eventJSON("evt_5", "a."+strings.Repeat("b", 300))),
		"invalid UTF-8":      signedCase(append(eventJSON("evt_6", "ping.x"), 0xff)),
		"object id with NUL": signedCase([]byte(strings.Replace(string(eventJSON("evt_7", "checkout.session.completed")), "cs_test_1", "cs_\\u0000", 1))),
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := h.count("stripe_events")
			if res := h.postWebhook(tc.payload, tc.signature); res.status != tc.want {
				t.Errorf("status %d, want %d", res.status, tc.want)
			}
			added := h.count("stripe_events") - before
			if wantRow := tc.want == http.StatusOK; added != map[bool]int{true: 1, false: 0}[wantRow] {
				t.Errorf("%d ledger rows added", added)
			}
		})
	}
}
