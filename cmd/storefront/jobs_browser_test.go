package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserJobsUI: staff sign in and find, in River's UI at /admin/jobs
// (under the store's security headers), the email job of a declined charge
// waiting in the available state, since local mode has no SMTP_URL; the
// outbox shows the message as waiting.
func TestBrowserJobsUI(t *testing.T) {
	ctx := newBrowser(t)
	// The 0341 card's generic decline is soft: with no retries scheduled,
	// the declined charge writes its customer at once.
	s := startLocalStoreWith(t, map[string]string{"DUNNING_SCHEDULE": "off"})
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.baseURL+"/admin/outbox"),
		chromedp.WaitVisible(`#password`),
		signInOnThePage("admin", s.password),
	)
	if err != nil {
		t.Fatalf("sign in to the jobs UI: %v", err)
	}
	saveCardInBrowser(t, ctx, s.baseURL, "wait@example.com", "4000 0000 0000 0341")
	if status := chargeInBrowser(t, ctx, s.baseURL, "wait@example.com", "20.00"); status != "declined" {
		t.Fatalf("charge of 0341: %q, want declined", status)
	}
	err = chromedp.Do(ctx, chromedp.Navigate(s.baseURL+"/admin/jobs/jobs?state=available"))
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.body.innerText.includes("send_notification")`))
	}
	if err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("the jobs UI does not list the waiting email job: %v\n%s", err, page)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.baseURL+"/admin/outbox"), chromedp.WaitVisible(`table`)); err != nil {
		t.Fatal(err)
	}
	if row := mustText(t, ctx, `table`); !strings.Contains(row, "wait@example.com") || !strings.Contains(row, "waiting") {
		t.Errorf("outbox without SMTP_URL:\n%s", row)
	}
}
