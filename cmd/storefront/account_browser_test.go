package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowserCustomerManagesCards drives a browser through the
// self-service: a customer with two saved cards asks for a link on the
// store page, opens it from the email (the outbox, in local mode), makes
// the second card the default, removes it choosing the first instead, and
// adds one again through Checkout; a tampered link offers a new one. Each
// page is checked at 1280 and 390 pixels and with axe-core.
func TestBrowserCustomerManagesCards(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	s := startLocalStore(t)
	saveCardInBrowser(t, ctx, s.baseURL, "ann@example.com", "4242 4242 4242 4242")
	saveCardInBrowser(t, ctx, s.baseURL, "ann@example.com", "5555 5555 5555 4444")

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.baseURL+"/"),
		chromedp.WaitVisible(`#manage-email`),
		chromedp.SetValue(`#manage-email`, "ann@example.com"),
		chromedp.Click(`form[action="/account"] button[type=submit]`),
		chromedp.WaitVisible(`#account-message`),
	)
	if err != nil {
		t.Fatalf("ask for a link: %v", err)
	}
	pageCheck(t, ctx, axe, "the link-sent page")
	if title := mustText(t, ctx, `#main h1`); title != "Check your email" {
		t.Errorf("after asking for a link: %q", title)
	}

	link := outboxLink(t, ctx, s, "/account/")
	// The customer's own browser sends no staff credentials.
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{}}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(`#cards`)); err != nil {
		t.Fatalf("open the emailed link: %v", err)
	}
	pageCheck(t, ctx, axe, "the cards page")
	if cards := mustText(t, ctx, `#cards`); !strings.Contains(cards, "Visa ···· 4242") || !strings.Contains(cards, "Mastercard ···· 4444") {
		t.Errorf("the cards page shows:\n%s", cards)
	}

	confirmInBrowser(t, ctx, axe, `//tr[contains(., "4444")]//form[contains(@action, "/default")]//button`,
		"We will charge Mastercard ···· 4444 for your future payments instead of Visa ···· 4242. Nothing is charged now.",
		"Mastercard ···· 4444 is now the card we charge.")
	pageCheck(t, ctx, axe, "the cards page after an action")
	confirmInBrowser(t, ctx, axe, `//tr[contains(., "4444")]//form[contains(@action, "/remove")]//button`,
		"Mastercard ···· 4444 will be removed from this store and from our payment provider, Stripe. It can no longer be charged.",
		"Mastercard ···· 4444 was removed. It can no longer be charged. Visa ···· 4242 is now the card we charge.")
	if row := mustText(t, ctx, `//tr[contains(., "4242")]`); !strings.Contains(row, "default") {
		t.Errorf("the Visa is not the default after the Mastercard was removed: %q", row)
	}

	step, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = chromedp.Do(step, chromedp.Click(`#add-card`), payOnCheckoutPage("5555 5555 5555 4444"), chromedp.WaitVisible(`#flash`))
	cancel()
	if err != nil {
		t.Fatalf("add a card: %v", err)
	}
	pageCheck(t, ctx, axe, "the cards page back from Checkout")
	if got := mustText(t, ctx, `#flash`); got != "Mastercard ···· 4444 is saved." {
		t.Errorf("after adding a card: %q", got)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(link+"x"), chromedp.WaitVisible(`#account-email`)); err != nil {
		t.Fatalf("a tampered link: %v", err)
	}
	pageCheck(t, ctx, axe, "a tampered link's page")
	if title := mustText(t, ctx, `#main h1`); title != "This link is not valid" {
		t.Errorf("a tampered link: %q", title)
	}
}

// TestBrowserAdminPaymentsAndEvents: the payments and events lists after a
// charge that succeeded and one that declined, filtered through their
// forms, and an event replayed from the list; each page checked at 1280
// and 390 pixels and with axe-core.
func TestBrowserAdminPaymentsAndEvents(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	s := startLocalStoreWith(t, map[string]string{"DUNNING_SCHEDULE": "off"})
	saveCardInBrowser(t, ctx, s.baseURL, "pay@example.com", "4242 4242 4242 4242")
	saveCardInBrowser(t, ctx, s.baseURL, "decline@example.com", "4000 0000 0000 0341")
	adminAuth(t, ctx, s)
	chargeInBrowser(t, ctx, s.baseURL, "pay@example.com", "10.99")
	chargeInBrowser(t, ctx, s.baseURL, "decline@example.com", "20.00")

	if err := chromedp.Do(ctx, chromedp.Navigate(s.baseURL+"/admin/payments"), chromedp.WaitVisible(`#payments`)); err != nil {
		t.Fatalf("payments: %v", err)
	}
	pageCheck(t, ctx, axe, "the payments list")
	if list := mustText(t, ctx, `#payments`); !strings.Contains(list, "pay@example.com") || !strings.Contains(list, "decline@example.com") {
		t.Errorf("the payments list:\n%s", list)
	}
	err := chromedp.Do(ctx,
		chromedp.SetValue(`#status`, "declined"),
		chromedp.Click(`form.filterbar button[type=submit]`),
		chromedp.WaitVisible(`#payments`),
	)
	if err != nil {
		t.Fatalf("filter the payments: %v", err)
	}
	pageCheck(t, ctx, axe, "the declined payments")
	if list := mustText(t, ctx, `#payments`); strings.Contains(list, "pay@example.com") || !strings.Contains(list, "decline@example.com") {
		t.Errorf("the declined payments:\n%s", list)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(s.baseURL+"/admin/events"), chromedp.WaitVisible(`#events`)); err != nil {
		t.Fatalf("events: %v", err)
	}
	pageCheck(t, ctx, axe, "the events list")
	typ, id := firstListedEvent(t, ctx)
	confirmInBrowser(t, ctx, axe, `#events button`, "Apply the "+typ+" event "+id+" again?", "The "+typ+" event "+id+" was applied again.")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`#events`)); err != nil {
		t.Errorf("the replay did not come back to the events list: %v", err)
	}
}

// firstListedEvent is the type and id of the first event of the events list.
func firstListedEvent(t *testing.T, ctx context.Context) (typ, id string) {
	t.Helper()
	return mustText(t, ctx, `#events td[data-label=Type]`), mustText(t, ctx, `#events td[data-label=Event] code`)
}

// outboxLink reads, as the admin, the newest link of the outbox whose path
// starts with prefix: in local mode, where the customer's email would go.
func outboxLink(t *testing.T, ctx context.Context, s localStore, prefix string) string {
	t.Helper()
	adminAuth(t, ctx, s)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.baseURL+"/admin/outbox"), chromedp.WaitVisible(`#outbox`)); err != nil {
		t.Fatal(err)
	}
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(`a[href*="`+prefix+`"]`, "href"))
	if err != nil || !link.Exists {
		t.Fatalf("no %s link in the outbox: %v", prefix, err)
	}
	return link.Value
}
