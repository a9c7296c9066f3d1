package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowserCustomerManagesCards drives a phone-sized browser through the
// self-service: a customer with two saved cards asks for a link on the
// store page, opens it from the email (the outbox, in local mode), makes
// the second card the default, removes it choosing the first instead, and
// adds one again through Checkout; a tampered link offers a
// new one. Each page is checked for width and with axe-core.
func TestBrowserCustomerManagesCards(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	s := startLocalStore(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
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
	if title := mustText(t, ctx, `main h1`); title != "Check your email" {
		t.Errorf("after asking for a link: %q", title)
	}

	link := outboxLink(t, ctx, s, "/account/")
	cardsPage := func(step string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(`#cards`)); err != nil {
			t.Fatalf("%s: the cards page: %v", step, err)
		}
		pageCheck(t, ctx, axe, "the cards page, "+step)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	cardsPage("opened")
	if cards := mustText(t, ctx, `#cards`); !strings.Contains(cards, "Visa ···· 4242") || !strings.Contains(cards, "Mastercard ···· 4444") {
		t.Errorf("the cards page shows:\n%s", cards)
	}

	confirmCardAction(t, ctx, axe, `//tr[contains(., "4444")]//form[contains(@action, "/default")]//button`,
		"We will charge Mastercard ···· 4444 for your future payments instead of Visa ···· 4242. Nothing is charged now.")
	cardsPage("after making a default")
	if notice := mustText(t, ctx, `#notice`); notice != "Mastercard ···· 4444 is now the card we charge." {
		t.Errorf("after making the default: %q", notice)
	}

	confirmCardAction(t, ctx, axe, `//tr[contains(., "4444")]//form[contains(@action, "/remove")]//button`,
		"Mastercard ···· 4444 will be removed from this store and from our payment provider, Stripe. It can no longer be charged.")
	cardsPage("after removing a card")
	if notice := mustText(t, ctx, `#notice`); !strings.HasPrefix(notice, "Mastercard ···· 4444 was removed.") {
		t.Errorf("after removing: %q", notice)
	}
	if row := mustText(t, ctx, `//tr[contains(., "4242")]`); !strings.Contains(row, "default") {
		t.Errorf("the Visa is not the default after the Mastercard was removed: %q", row)
	}

	step, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = chromedp.Do(step,
		chromedp.Click(`#add-card`),
		payOnCheckoutPage("5555 5555 5555 4444"),
		chromedp.WaitVisible(`#notice`),
	)
	cancel()
	if err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Text(`body`))
		t.Fatalf("add a card: %v at %s: %s", err, loc, body)
	}
	cardsPage("after adding a card")
	if notice := mustText(t, ctx, `#notice`); notice != "Mastercard ···· 4444 is saved." {
		t.Errorf("after adding a card: %q", notice)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(link+"x"), chromedp.WaitVisible(`#account-email`)); err != nil {
		t.Fatalf("a tampered link: %v", err)
	}
	pageCheck(t, ctx, axe, "a tampered link's page")
	if title := mustText(t, ctx, `main h1`); title != "This link is not valid" {
		t.Errorf("a tampered link: %q", title)
	}
}

// TestBrowserAdminPaymentsAndEvents: the payments and events lists, on a
// phone and on a desktop screen, after a charge that succeeded and one that
// declined, filtered through their forms.
func TestBrowserAdminPaymentsAndEvents(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	s := startLocalStoreWith(t, map[string]string{"DUNNING_SCHEDULE": "off"})
	saveCardInBrowser(t, ctx, s.baseURL, "pay@example.com", "4242 4242 4242 4242")
	saveCardInBrowser(t, ctx, s.baseURL, "decline@example.com", "4000 0000 0000 0341")
	adminAuth(t, ctx, s)
	chargeInBrowser(t, ctx, s.baseURL, "pay@example.com", "10.99")
	chargeInBrowser(t, ctx, s.baseURL, "decline@example.com", "20.00")

	for _, width := range []int64{390, 1280} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 844)); err != nil {
			t.Fatal(err)
		}
		check := func(page string) {
			t.Helper()
			if width == 390 {
				pageCheck(t, ctx, axe, page)
				return
			}
			if wide, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || wide > int(width) {
				t.Errorf("%s is %d pixels wide at %d (%v)", page, wide, width, err)
			}
		}
		err := chromedp.Do(ctx, chromedp.Navigate(s.baseURL+"/admin/payments"), chromedp.WaitVisible(`#payments`))
		if err != nil {
			t.Fatalf("payments: %v", err)
		}
		check("the payments list")
		if list := mustText(t, ctx, `#payments`); !strings.Contains(list, "pay@example.com") || !strings.Contains(list, "decline@example.com") {
			t.Errorf("the payments list:\n%s", list)
		}
		err = chromedp.Do(ctx,
			chromedp.SetValue(`#status`, "declined"),
			chromedp.Click(`form.filterbar button[type=submit]`),
			chromedp.WaitVisible(`#payments`),
		)
		if err != nil {
			t.Fatalf("filter the payments: %v", err)
		}
		if list := mustText(t, ctx, `#payments`); strings.Contains(list, "pay@example.com") || !strings.Contains(list, "decline@example.com") {
			t.Errorf("the declined payments:\n%s", list)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(s.baseURL+"/admin/events"), chromedp.WaitVisible(`#events`)); err != nil {
			t.Fatalf("events: %v", err)
		}
		check("the events list")
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

// outboxLink reads, as the admin, the newest link of the outbox whose path
// starts with prefix: in local mode, where the customer's email would go.
func outboxLink(t *testing.T, ctx context.Context, s localStore, prefix string) string {
	t.Helper()
	adminAuth(t, ctx, s)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.baseURL+"/admin/outbox"), chromedp.WaitVisible(`table`)); err != nil {
		t.Fatal(err)
	}
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(`a[href*="`+prefix+`"]`, "href"))
	if err != nil || !link.Exists {
		t.Fatalf("no %s link in the outbox: %v", prefix, err)
	}
	return link.Value
}

// confirmCardAction presses a card's button on the cards page, checks the
// confirmation's question and confirms.
func confirmCardAction(t *testing.T, ctx context.Context, axe, button, question string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(button), chromedp.WaitVisible(`#confirm-question`)); err != nil {
		t.Fatalf("press %s: %v", button, err)
	}
	pageCheck(t, ctx, axe, "the customer's confirmation step")
	if got := mustText(t, ctx, `#confirm-question`); got != question {
		t.Errorf("the confirmation asks %q, want %q", got, question)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`#confirm`)); err != nil {
		t.Fatalf("confirm: %v", err)
	}
}
