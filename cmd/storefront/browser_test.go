package main

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// newBrowser starts Debian's headless Chromium for the test, or skips
// (fails under CI, where .ci/run installs it) when it is absent.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("Chromium is required under CI: apt-get install chromium")
		}
		t.Skip("Chromium not installed (apt-get install chromium); skipping the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	// Generous: a test that checks every page with axe-core at two widths
	// takes a minute or two on a busy machine.
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	return ctx
}

// payOnCheckoutPage fills the emulator's (or Stripe's) hosted page with a
// card and submits it; the element ids are Stripe's own.
func payOnCheckoutPage(number string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(`#cardNumber`),
		chromedp.SetValue(`#cardNumber`, number),
		chromedp.SetValue(`#cardExpiry`, "12 / 34"),
		chromedp.SetValue(`#cardCvc`, "123"),
		chromedp.SetValue(`#billingName`, "Lee Example"),
		chromedp.Click(`button[type=submit]`),
	)
}

// openSaveCard presses Save card on the store page with email, which leads
// to the hosted card page.
func openSaveCard(baseURL, email string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(baseURL+"/"),
		chromedp.WaitVisible(`#email`),
		chromedp.SetValue(`#email`, email),
		chromedp.Click(`form[action="/create-checkout-session"] button[type=submit]`),
	)
}

// saveCardInBrowser runs the storefront's Save card flow and returns the last 4 shown.
func saveCardInBrowser(t *testing.T, ctx context.Context, baseURL, email, number string) (brand, last4 string) {
	t.Helper()
	err := chromedp.Do(ctx, openSaveCard(baseURL, email), payOnCheckoutPage(number), chromedp.WaitVisible(`.last4`))
	if err != nil {
		t.Fatalf("save card %s in the browser: %v", number, err)
	}
	last4 = mustText(t, ctx, `.last4`)
	return mustText(t, ctx, `.brand-name`), last4
}

func mustText(t *testing.T, ctx context.Context, selector string) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Text(selector))
	if err != nil {
		t.Fatalf("read %s: %v", selector, err)
	}
	return strings.TrimSpace(text)
}

// chargeInBrowser opens the admin list, the customer of email, charges its
// active card through the confirmation and returns the status the outcome
// page shows (the contract's word, data-status).
func chargeInBrowser(t *testing.T, ctx context.Context, baseURL, email, amount string) string {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/admin?q="+email),
		chromedp.WaitVisible(`table`),
		chromedp.Click(`a[href^="/admin/customers/"]`),
		chromedp.WaitVisible(`form.charge input[name=amount]`),
		chromedp.SetValue(`form.charge input[name=amount]`, amount),
		chromedp.Click(`form.charge button[type=submit]`),
		chromedp.WaitVisible(`#confirm-question`),
		chromedp.Click(`#confirm`),
		chromedp.WaitVisible(`#charge-status`),
	)
	if err != nil {
		t.Fatalf("charge %s's card in the browser: %v", email, err)
	}
	return mustStatus(t, ctx, `#charge-status`)
}

// mustStatus is the contract's status word of a status pill.
func mustStatus(t *testing.T, ctx context.Context, selector string) string {
	t.Helper()
	status, err := chromedp.Run(ctx, chromedp.AttributeValue(selector, "data-status"))
	if err != nil || !status.Exists {
		t.Fatalf("read the status of %s: %v", selector, err)
	}
	return status.Value
}

// TestBrowserSaveCardChargeAndRecover drives a real browser through the
// whole product: a customer saves a card; the admin finds it and charges it
// ("succeeded"); a card that declines off-session is charged ("declined"),
// its recovery link is paid with another card on the hosted page, and the
// admin sees the charge recovered.
func TestBrowserSaveCardChargeAndRecover(t *testing.T) {
	ctx := newBrowser(t)
	s := startLocalStore(t)

	if brand, last4 := saveCardInBrowser(t, ctx, s.baseURL, "lee@example.com", "4242 4242 4242 4242"); brand != "Visa" || last4 != "4242" {
		t.Errorf("success page shows %q ending in %q, want Visa ending in 4242", brand, last4)
	}

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+s.password))
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatalf("set admin credentials: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.baseURL+"/admin"), chromedp.WaitVisible(`table`)); err != nil {
		t.Fatalf("admin list in the browser: %v", err)
	}
	if list := mustText(t, ctx, `table`); !strings.Contains(list, "lee@example.com") || !strings.Contains(list, "4242") {
		t.Errorf("admin list does not show the saved card:\n%s", list)
	}
	if status := chargeInBrowser(t, ctx, s.baseURL, "lee@example.com", "10.99"); status != "succeeded" {
		t.Errorf("charge of 4242: %q, want succeeded", status)
	}

	saveCardInBrowser(t, ctx, s.baseURL, "max@example.com", "4000 0000 0000 0341")
	if status := chargeInBrowser(t, ctx, s.baseURL, "max@example.com", "20.00"); status != "declined" {
		t.Fatalf("charge of 0341: %q, want declined", status)
	}
	link, err := chromedp.Run(ctx, chromedp.Text(`a.recovery-link`))
	if err != nil {
		t.Fatalf("no recovery link on the outcome page: %v", err)
	}
	chargePage, _ := chromedp.Run(ctx, chromedp.Location())
	err = chromedp.Do(ctx,
		chromedp.Navigate(strings.TrimSpace(link)),
		payOnCheckoutPage("4242 4242 4242 4242"),
		chromedp.WaitVisible(`#main h1`),
	)
	if err != nil {
		t.Fatalf("pay the recovery link in the browser: %v", err)
	}
	if title := mustText(t, ctx, `#main h1`); title != "Payment received" {
		t.Errorf("after paying: %q, want Payment received", title)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(chargePage), chromedp.WaitVisible(`#charge-status`)); err != nil {
		t.Fatal(err)
	}
	if status := mustStatus(t, ctx, `#charge-status`); status != "recovered" {
		t.Errorf("admin sees the declined charge as %q, want recovered", status)
	}
}

// adminAuth sends the admin's credentials with every request from now on.
func adminAuth(t *testing.T, ctx context.Context, s localStore) {
	t.Helper()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+s.password))
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatalf("set admin credentials: %v", err)
	}
}
