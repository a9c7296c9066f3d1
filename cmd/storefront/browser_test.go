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
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	return ctx
}

// TestBrowserSaveCard drives a real browser from the store's page through
// Save card, the emulator's card page and back, then to the admin list.
func TestBrowserSaveCard(t *testing.T) {
	ctx := newBrowser(t)
	s := startLocalStore(t)

	// The first call starts the browser, which lives as long as its context:
	// no timeout on this one (newBrowser's overall deadline still applies).
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.baseURL+"/"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "lee@example.com"),
		chromedp.Click(`button[type=submit]`),

		chromedp.WaitVisible(`#cardNumber`),
		chromedp.SendKeys(`#cardNumber`, "4242 4242 4242 4242"),
		chromedp.SendKeys(`#cardExpiry`, "12 / 34"),
		chromedp.SendKeys(`#cardCvc`, "123"),
		chromedp.SendKeys(`#billingName`, "Lee Example"),
		chromedp.Click(`button[type=submit]`),

		chromedp.WaitVisible(`.last4`),
	)
	if err != nil {
		t.Fatalf("save card in the browser: %v\nserver log:\n%s", err, s.logs)
	}
	last4, err := chromedp.Run(ctx, chromedp.Text(`.last4`))
	if err != nil {
		t.Fatal(err)
	}
	brand, err := chromedp.Run(ctx, chromedp.Text(`.brand-name`))
	if err != nil {
		t.Fatal(err)
	}
	if last4 != "4242" || brand != "Visa" {
		t.Errorf("success page shows %q ending in %q, want Visa ending in 4242", brand, last4)
	}

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+s.password))
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatalf("set admin credentials: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.baseURL+"/admin"), chromedp.WaitVisible(`table`)); err != nil {
		t.Fatalf("admin list in the browser: %v", err)
	}
	adminText, err := chromedp.Run(ctx, chromedp.Text(`table`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(adminText, "lee@example.com") || !strings.Contains(adminText, "4242") {
		t.Errorf("admin list does not show the saved card:\n%s", adminText)
	}
}
