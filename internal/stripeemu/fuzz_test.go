package stripeemu_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/storefront/storefront/internal/stripeemu"
)

// FuzzAPI throws odd methods, paths and bodies at the handler: every answer
// must be a Stripe-shaped JSON error or object, never a 5xx or a panic.
func FuzzAPI(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"POST", "/v1/customers", "email=a%40b.c&metadata[x]=y"},
		{"POST", "/v1/customers", "metadata[a][b][c][d][e][f][g][h][i]=1"},
		{"POST", "/v1/customers", "metadata[]=1&metadata[0]=2"},
		{"POST", "/v1/customers", "[a]=1&a]=2&a[=3"},
		{"POST", "/v1/customers", "%zz=1"},
		{"POST", "/v1/customers", "expand[]=nope&expand=invoice_settings.default_payment_method.customer.x.y"},
		{"POST", "/v1/customers/cus_1", "invoice_settings=x"},
		{"POST", "/v1/refunds", "payment_intent=pi_1&amount=-5&reason=x&metadata[a]=b"},
		{"POST", "/v1/refunds", "charge=ch_1&payment_intent=pi_1"},
		{"POST", "/v1/checkout/sessions", "mode=payment&success_url=https%3A%2F%2Fa.b%2F&line_items[0]=x"},
		{"POST", "/v1/checkout/sessions", "mode=payment&success_url=https%3A%2F%2Fa.b%2F&line_items[0][price_data]=&line_items[0][quantity]=-1"},
		{"POST", "/v1/checkout/sessions", "mode=payment&success_url=https%3A%2F%2Fa.b%2F&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=99999999&line_items[0][price_data][product_data][name]=x&line_items[0][quantity]=999999"},
		{"POST", "/v1/checkout/sessions", "mode=setup&currency=US&success_url=https%3A%2F%2Fa.b%2F&expires_at=1"},
		{"POST", "/v1/checkout/sessions", "mode[x]=setup"},
		{"POST", "/v1/payment_intents", "amount=9223372036854775807&currency=usd&confirm=true&payment_method=pm_x"},
		{"POST", "/v1/payment_intents", "amount=100&currency=usd&off_session=maybe"},
		{"POST", "/v1/payment_methods/pm_x/attach", "customer[]=1"},
		{"GET", "/v1/events?created[gte]=x", ""},
		{"GET", "/v1/events?created[foo]=1&types[0][a]=b", ""},
		{"GET", "/v1/events?limit=-1&starting_after=a&ending_before=b", ""},
		{"GET", "/v1/customers?email[a]=b", ""},
		{"DELETE", "/v1/customers/%00", ""},
		{"GET", "/v1/checkout/sessions/../../x", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	emu := stripeemu.New(stripeemu.Options{PublicURL: "http://emu.test"})
	defer emu.Close()
	h := emu.Handler()
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/v1/") || strings.ContainsAny(path, " \r\n\t#") || strings.ContainsAny(method, " \r\n\t/") || method == "" {
			return
		}
		req, err := http.NewRequest(method, "http://emu.test"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer sk_test_fuzz")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 300 && rec.Code != http.StatusMovedPermanently && rec.Code != http.StatusTemporaryRedirect {
			var m map[string]map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["error"]["type"] == nil || m["error"]["message"] == nil {
				t.Fatalf("%s %s %q: %d not Stripe-shaped: %s", method, path, body, rec.Code, rec.Body)
			}
		}
	})
}
