package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit"
)

// recordedStripe is an emulator whose Checkout Session creates are kept,
// so a test can read what the store asked Stripe to show.
type recordedStripe struct {
	url      string
	mu       sync.Mutex
	sessions []url.Values
}

func (s *recordedStripe) paymentSessions() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []url.Values
	for _, f := range s.sessions {
		if f.Get("mode") == "payment" {
			out = append(out, f)
		}
	}
	return out
}

// startRecordedStripe runs an emulator that delivers its webhooks to a
// store on port, signed with secret.
func startRecordedStripe(t *testing.T, port int, secret string) *recordedStripe {
	t.Helper()
	rs := &recordedStripe{}
	emu := stripeemu.New(stripeemu.Options{WebhookURL: fmt.Sprintf("http://127.0.0.1:%d/webhook", port), WebhookSecret: secret})
	handler := emu.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/checkout/sessions" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			rs.mu.Lock()
			rs.sessions = append(rs.sessions, form)
			rs.mu.Unlock()
		}
		handler.ServeHTTP(w, r)
	}))
	emu.SetPublicURL(srv.URL)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	rs.url = srv.URL
	return rs
}

// axeScript is axe-core, for the accessibility check of each page: from
// AXE_CORE_JS, or where `make tools` installs it.
func axeScript(t *testing.T) string {
	t.Helper()
	path := os.Getenv("AXE_CORE_JS")
	if path == "" {
		path = filepath.Join("..", "..", ".cache", "axe", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core is required under CI (make tools installs it): %v", err)
		}
		t.Logf("axe-core not found (%v): pages are not checked for accessibility; run make tools", err)
		return ""
	}
	return string(b)
}

// pageCheck checks the page in the browser as people meet it, on a laptop
// (1280 pixels wide) and on a phone (390): no sideways scrolling, and no
// serious or critical axe-core violation. It leaves the browser at 390.
func pageCheck(t *testing.T, ctx context.Context, axe, page string) {
	t.Helper()
	for _, width := range []int64{1280, 390} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
			t.Fatal(err)
		}
		pageCheckAt(t, ctx, axe, fmt.Sprintf("%s at %d pixels", page, width), width)
	}
}

func pageCheckAt(t *testing.T, ctx context.Context, axe, page string, viewport int64) {
	t.Helper()
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`))
	if err != nil || width > viewport {
		wide, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > %d).map(e => e.tagName + "." + e.className).slice(0, 8).join(" ")`, viewport)))
		t.Errorf("%s is %d pixels wide (%v): %s", page, width, err, wide)
	}
	if axe == "" {
		return
	}
	// Loaded once per page: the check at the second width finds it there.
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe !== "undefined"`))
	if err == nil && !loaded {
		_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](axe+";true"))
	}
	if err != nil {
		t.Fatalf("load axe-core on %s: %v", page, err)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
		r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => v.id + ": " + v.help + " (" + v.nodes.map(n => n.target.join(" ")).join(", ") + ")")))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe-core on %s: %v", page, err)
	}
	var violations []string
	if err := json.Unmarshal([]byte(found), &violations); err != nil {
		t.Fatalf("axe-core on %s: %v", page, err)
	}
	for _, v := range violations {
		t.Errorf("%s: %s", page, v)
	}
}

// TestBrowserShopOrderChargeRefundAndRecovery drives a phone-sized browser
// through the shop: two T-shirts ordered with 4242, placed, charged through
// the confirmation step and refunded in part; then an order with a card
// that declines off-session, charged (payment_failed) and paid through the
// emailed link with 4242 (paid), whose recovery session carries the
// order's lines.
func TestBrowserShopOrderChargeRefundAndRecovery(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	port := testkit.FreePort(t)
	stripe := startRecordedStripe(t, port, "whsec_browser_shop")
	s := startLocalStoreWith(t, map[string]string{"PORT": fmt.Sprint(port), "STRIPE_API_BASE": stripe.url, "STRIPE_WEBHOOK_SECRET": "whsec_browser_shop",
		// 0341 is a soft decline: without dunning its recovery email goes at once.
		"DUNNING_SCHEDULE": "off"})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}

	number := placeOrderInBrowser(t, ctx, s.baseURL, axe, [][2]string{{"T-shirt", "2"}}, "jane@example.com", "4242 4242 4242 4242")
	if total := mustText(t, ctx, `#order-total`); total != "$21.98" {
		t.Errorf("order total %q, want $21.98", total)
	}
	if card := mustText(t, ctx, `#order-card`); card != "Visa ···· 4242" {
		t.Errorf("card to be charged %q", card)
	}

	adminAuth(t, ctx, s)
	orderPage := s.baseURL + "/admin/orders/" + strings.TrimPrefix(number, "#")
	if err := chromedp.Do(ctx, chromedp.Navigate(s.baseURL+"/admin/orders"), chromedp.WaitVisible(`#orders`)); err != nil {
		t.Fatalf("order list: %v", err)
	}
	pageCheck(t, ctx, axe, "the order list")
	if list := mustText(t, ctx, `#orders`); !strings.Contains(list, number) || !strings.Contains(list, "placed") {
		t.Errorf("the order list does not show %s placed:\n%s", number, list)
	}
	if status := adminOrderAction(t, ctx, axe, orderPage, `#charge`, "Charge $21.98 to Visa ···· 4242, jane@example.com, order "+number+"?",
		"Charged $21.98 to Visa ···· 4242 for order "+number+"."); status != "paid" {
		t.Errorf("after the charge: %q, want paid", status)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(`#refund-amount`, "5.00")); err != nil {
		t.Fatal(err)
	}
	if status := adminOrderAction(t, ctx, axe, "", `#refund`, "Refund $5.00 of the $21.98 paid to Visa ···· 4242, jane@example.com, order "+number+"?",
		"Refunded $5.00 of order "+number+" to Visa ···· 4242."); status != "partially_refunded" {
		t.Errorf("after refunding 5.00: %q, want partially_refunded", status)
	}

	number = placeOrderInBrowser(t, ctx, s.baseURL, axe, [][2]string{{"T-shirt", "1"}, {"Mug", "2"}}, "max@example.com", "4000 0000 0000 0341")
	orderPage = s.baseURL + "/admin/orders/" + strings.TrimPrefix(number, "#")
	if status := adminOrderAction(t, ctx, axe, orderPage, `#charge`, "Charge $39.99 to Visa ···· 0341, max@example.com, order "+number+"?",
		"The charge of $39.99 to Visa ···· 0341 for order "+number+" did not go through; the order's payment failed."); status != "payment_failed" {
		t.Fatalf("after charging 0341: %q, want payment_failed", status)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.baseURL+"/admin/outbox"), chromedp.WaitVisible(`table`)); err != nil {
		t.Fatal(err)
	}
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(`a[href*="/pay/"]`, "href"))
	if err != nil || !link.Exists {
		t.Fatalf("no payment link in the outbox: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(link.Value),
		payOnCheckoutPage("4242 4242 4242 4242"),
		chromedp.WaitVisible(`#main h1`),
	)
	if err != nil {
		t.Fatalf("pay the emailed link: %v", err)
	}
	if title := mustText(t, ctx, `#main h1`); title != "Payment received" {
		t.Errorf("after paying: %q", title)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(orderPage), chromedp.WaitVisible(`#order-status`)); err != nil {
		t.Fatal(err)
	}
	if status := mustStatus(t, ctx, `#order-status`); status != "paid" {
		t.Errorf("after the recovery payment: %q, want paid", status)
	}
	recovery := stripe.paymentSessions()
	if len(recovery) != 1 {
		t.Fatalf("%d payment sessions, want the one recovery session", len(recovery))
	}
	var lines []string
	for i := 0; recovery[0].Get(fmt.Sprintf("line_items[%d][quantity]", i)) != ""; i++ {
		item := fmt.Sprintf("line_items[%d]", i)
		lines = append(lines, recovery[0].Get(item+"[quantity]")+" × "+recovery[0].Get(item+"[price_data][product_data][name]")+" at "+recovery[0].Get(item+"[price_data][unit_amount]"))
	}
	if got, want := strings.Join(lines, "; "), "1 × T-shirt at 1099; 2 × Mug at 1450"; got != want {
		t.Errorf("the recovery session's lines: %s, want %s", got, want)
	}
}

// placeOrderInBrowser adds products (name, quantity) to the cart from the
// store page in the order given (the order's lines keep it), checks out
// with email and card, and returns the order number the success page shows.
func placeOrderInBrowser(t *testing.T, ctx context.Context, baseURL, axe string, lines [][2]string, email, card string) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(baseURL+"/"), chromedp.WaitVisible(`.products`)); err != nil {
		t.Fatalf("store page: %v", err)
	}
	pageCheck(t, ctx, axe, "the store page")
	for _, line := range lines {
		name, quantity := line[0], line[1]
		product := fmt.Sprintf(`//li[contains(@class,"product")][h2[text()=%q]]`, name)
		err := chromedp.Do(ctx,
			chromedp.Navigate(baseURL+"/"),
			chromedp.WaitVisible(product),
			chromedp.SetValue(product+`//input[@name="quantity"]`, quantity),
			chromedp.Click(product+`//button[@type="submit"]`),
			chromedp.WaitVisible(`#cart-total`),
		)
		if err != nil {
			t.Fatalf("add %s × %s: %v", name, quantity, err)
		}
	}
	pageCheck(t, ctx, axe, "the cart")
	err := chromedp.Do(ctx,
		chromedp.SetValue(`#email`, email),
		chromedp.Click(`form[action="/checkout"] button[type=submit]`),
		payOnCheckoutPage(card),
		chromedp.WaitVisible(`#order-number`),
	)
	if err != nil {
		t.Fatalf("check out with %s: %v", card, err)
	}
	pageCheck(t, ctx, axe, "the order placed page")
	if status := mustStatus(t, ctx, `#order-status`); status != "placed" {
		t.Errorf("order status on the success page: %q, want placed", status)
	}
	return mustText(t, ctx, `#order-number`)
}

// adminOrderAction presses an order action's button (on page, when given),
// checks the confirmation's question, confirms, checks the message the
// order page then shows, and returns the status (the contract's word).
func adminOrderAction(t *testing.T, ctx context.Context, axe, page, button, question, flash string) string {
	t.Helper()
	if page != "" {
		if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(`#order-status`)); err != nil {
			t.Fatalf("order page: %v", err)
		}
		pageCheck(t, ctx, axe, "the admin's order page")
	}
	confirmInBrowser(t, ctx, axe, button, question, flash)
	pageCheck(t, ctx, axe, "the admin's order page after an action")
	return mustStatus(t, ctx, `#order-status`)
}

// confirmInBrowser presses button, checks the confirmation page and its
// question, confirms (its button is disabled while the form submits), and
// checks the message on the page it returns to.
func confirmInBrowser(t *testing.T, ctx context.Context, axe, button, question, flash string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(button), chromedp.WaitVisible(`#confirm-question`)); err != nil {
		t.Fatalf("press %s: %v", button, err)
	}
	pageCheck(t, ctx, axe, "the confirmation of "+button)
	if got := mustText(t, ctx, `#confirm-question`); got != question {
		t.Errorf("the confirmation asks %q, want %q", got, question)
	}
	// A submit that does not leave the page (a synthetic event) shows
	// what a real one does: the page's script disables the form's buttons.
	disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise(done => {
		const form = document.querySelector("#confirm").form;
		form.dispatchEvent(new Event("submit", {bubbles: true, cancelable: true}));
		setTimeout(() => { const b = document.querySelector("#confirm"); done(b.disabled); b.disabled = false; }, 50);
	})`, chromedp.EvalAwaitPromise))
	if err != nil || !disabled {
		t.Errorf("the confirmation's button stays enabled while its form submits (%v)", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`#confirm`), chromedp.WaitVisible(`#flash`)); err != nil {
		t.Fatalf("confirm %s: %v", button, err)
	}
	if got := mustText(t, ctx, `#flash`); got != flash {
		t.Errorf("after %s the page says %q, want %q", button, got, flash)
	}
}
