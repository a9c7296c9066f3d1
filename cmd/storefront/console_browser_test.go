package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserConsoleOnEveryScreen walks the customer's pages and every
// admin page but River's job UI, each checked at 1280 and 390 pixels (no
// sideways scrolling, axe-core), doing each card action through its
// confirmation and reading the message it leaves: customers save cards;
// the admin charges one, makes another the default, detaches the default
// card choosing the next, replays an event, charges a card that declines
// (failing, with why), whose customer pays through the emailed link; a
// product is edited. Orders are walked by TestBrowserShopOrderChargeRefundAndRecovery.
func TestBrowserConsoleOnEveryScreen(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	// 0341's generic decline is soft: with no retries scheduled, the link goes at once.
	s := startLocalStoreWith(t, map[string]string{"DUNNING_SCHEDULE": "off"})
	visit := func(path, ready, page string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(s.baseURL+path), chromedp.WaitVisible(ready)); err != nil {
			t.Fatalf("%s (%s): %v", page, path, err)
		}
		pageCheck(t, ctx, axe, page)
	}

	visit("/", `#email`, "the store page")
	saveCardChecked(t, ctx, axe, s.baseURL, "jane@example.com", "4242 4242 4242 4242")
	saveCardChecked(t, ctx, axe, s.baseURL, "jane@example.com", "5555 5555 5555 4444")
	saveCardChecked(t, ctx, axe, s.baseURL, "max@example.com", "4000 0000 0000 0341")
	visit("/cancel", `#main h1`, "the page of a checkout left")
	visit("/no-such-page", `#main h1`, "the page not found")

	adminAuth(t, ctx, s)
	visit("/admin", `table`, "the saved cards")
	jane := customerPage(t, ctx, s.baseURL, "jane@example.com")
	visit(jane, `#cards`, "a customer's page")
	row := func(card string) string {
		return fmt.Sprintf(`//tr[.//span[@class="card-name" and text()=%q]]`, card)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(row("Visa ···· 4242")+`//input[@name="amount"]`, "25")); err != nil {
		t.Fatal(err)
	}
	confirmInBrowser(t, ctx, axe, row("Visa ···· 4242")+`//form[contains(@class,"charge")]//button`,
		"Charge $25.00 to Visa ···· 4242, jane@example.com?", "Charged $25.00 to Visa ···· 4242.")
	pageCheck(t, ctx, axe, "a charge's page")
	if status := mustStatus(t, ctx, `#charge-status`); status != "succeeded" {
		t.Errorf("the charge is %q, want succeeded", status)
	}

	visit(jane, `#cards`, "a customer's page")
	confirmInBrowser(t, ctx, axe, row("Mastercard ···· 4444")+`//button[starts-with(normalize-space(.), "Make default")]`,
		"Make Mastercard ···· 4444 the default card of jane@example.com, instead of Visa ···· 4242?",
		"Mastercard ···· 4444 is now the default card.")
	pageCheck(t, ctx, axe, "a customer's page after an action")
	confirmInBrowser(t, ctx, axe, row("Mastercard ···· 4444")+`//button[starts-with(normalize-space(.), "Detach")]`,
		"Detach Mastercard ···· 4444 from jane@example.com?",
		"Mastercard ···· 4444 is detached. Visa ···· 4242 is now the default card.")
	if badge := mustText(t, ctx, row("Visa ···· 4242")+`//span[@class="badge"]`); badge != "default" {
		t.Errorf("the card chosen on the confirmation is not marked default: %q", badge)
	}
	typ, id := firstEvent(t, ctx)
	confirmInBrowser(t, ctx, axe, `#events button`, "Apply the "+typ+" event "+id+" again?", "The "+typ+" event "+id+" was applied again.")

	maxPage := customerPage(t, ctx, s.baseURL, "max@example.com")
	visit(maxPage, `#cards`, "another customer's page")
	if err := chromedp.Do(ctx, chromedp.SetValue(`form.charge input[name=amount]`, "10")); err != nil {
		t.Fatal(err)
	}
	confirmInBrowser(t, ctx, axe, `form.charge button`, "Charge $10.00 to Visa ···· 0341, max@example.com?",
		"The charge of $10.00 to Visa ···· 0341 did not go through: the bank declined without saying why.")
	pageCheck(t, ctx, axe, "a declined charge's page")
	visit("/admin?filter=failing", `table`, "the failing cards")
	if status := mustText(t, ctx, `td[data-label=Status]`); !strings.Contains(status, "failing") || !strings.Contains(status, "the bank declined without saying why") {
		t.Errorf("the declined card reads %q, want failing with why", status)
	}

	visit("/admin/outbox", `#outbox`, "the outbox")
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(`a[href*="/pay/"]`, "href"))
	if err != nil || !link.Exists {
		t.Fatalf("no payment link in the outbox: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(link.Value), chromedp.WaitVisible(`#cardNumber`)); err != nil {
		t.Fatalf("the emailed link: %v", err)
	}
	pageCheck(t, ctx, axe, "the hosted payment page")
	if err := chromedp.Do(ctx, payOnCheckoutPage("4242 4242 4242 4242"), chromedp.WaitVisible(`#main h1`)); err != nil {
		t.Fatalf("pay the emailed link: %v", err)
	}
	if title := mustText(t, ctx, `#main h1`); title != "Payment received" {
		t.Errorf("after paying: %q", title)
	}
	pageCheck(t, ctx, axe, "the payment received page")

	visit("/admin/products", `#products`, "the catalog")
	if err := chromedp.Do(ctx, chromedp.Click(`#products td[data-label=Product] a`), chromedp.WaitVisible(`#name`)); err != nil {
		t.Fatal(err)
	}
	pageCheck(t, ctx, axe, "a product's page")
	name := mustValue(t, ctx, `#name`)
	if err := chromedp.Do(ctx, chromedp.Click(`main form button[type=submit]`), chromedp.WaitVisible(`#flash`)); err != nil {
		t.Fatal(err)
	}
	if got := mustText(t, ctx, `#flash`); got != name+" is saved." {
		t.Errorf("after saving a product: %q", got)
	}
	visit("/admin/audit", `#audit`, "the audit log")
}

// saveCardChecked saves a card from the store page, checking the hosted
// card page and the card saved page on the way.
func saveCardChecked(t *testing.T, ctx context.Context, axe, baseURL, email, number string) {
	t.Helper()
	if err := chromedp.Do(ctx, openSaveCard(baseURL, email), chromedp.WaitVisible(`#cardNumber`)); err != nil {
		t.Fatalf("save a card for %s: %v", email, err)
	}
	pageCheck(t, ctx, axe, "the hosted card page")
	if err := chromedp.Do(ctx, payOnCheckoutPage(number), chromedp.WaitVisible(`.last4`)); err != nil {
		t.Fatalf("save %s for %s: %v", number, email, err)
	}
	pageCheck(t, ctx, axe, "the card saved page")
}

// customerPage finds a customer's page from the card list's search.
func customerPage(t *testing.T, ctx context.Context, baseURL, email string) string {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.Navigate(baseURL+"/admin?q="+email), chromedp.WaitVisible(`a[href^="/admin/customers/"]`))
	if err != nil {
		t.Fatalf("find %s: %v", email, err)
	}
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(`a[href^="/admin/customers/"]`, "href"))
	if err != nil || !href.Exists {
		t.Fatalf("no customer link for %s: %v", email, err)
	}
	return href.Value
}

// firstEvent is the type and id of the first event on a customer page.
func firstEvent(t *testing.T, ctx context.Context) (typ, id string) {
	t.Helper()
	typ, id, _ = strings.Cut(mustText(t, ctx, `#events td[data-label=Event]`), "\n")
	return strings.TrimSpace(typ), strings.TrimSpace(id)
}

func mustValue(t *testing.T, ctx context.Context, selector string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Value(selector))
	if err != nil {
		t.Fatalf("read %s: %v", selector, err)
	}
	return v
}
