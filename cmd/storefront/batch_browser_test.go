package main

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowserChargeAllPlacedOrders: on a phone, staff tick an order and are
// asked to confirm one order, go back, press "Charge all placed orders",
// confirm the count and total, and watch the batch's progress on the order
// list until both orders are charged; every page passes axe-core.
func TestBrowserChargeAllPlacedOrders(t *testing.T) {
	ctx := newBrowser(t)
	axe := axeScript(t)
	s := startLocalStore(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	first := placeOrderInBrowser(t, ctx, s.baseURL, axe, [][2]string{{"T-shirt", "2"}}, "jane@example.com", "4242 4242 4242 4242")
	placeOrderInBrowser(t, ctx, s.baseURL, axe, [][2]string{{"Mug", "1"}}, "max@example.com", "5555 5555 5555 4444")
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+s.password))
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatalf("set admin credentials: %v", err)
	}

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.baseURL+"/admin/orders"),
		chromedp.WaitVisible(`#charge-all`),
		chromedp.Click(`input[aria-label="Select order `+first+`"]`),
		chromedp.Click(`#charge-selected`),
		chromedp.WaitVisible(`#confirm-question`),
	)
	if err != nil {
		t.Fatalf("charge the selected order: %v", err)
	}
	pageCheck(t, ctx, axe, "the confirmation of the selected orders")
	if q := mustText(t, ctx, `#confirm-question`); !strings.Contains(q, "1 order, $21.98 in all") {
		t.Errorf("the selection's confirmation asks %q", q)
	}
	if back := mustText(t, ctx, `#confirm-back`); back != "Back to the orders, without doing anything" {
		t.Errorf("the way back reads %q", back)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`#confirm-back`), chromedp.WaitVisible(`#charge-all`)); err != nil {
		t.Fatalf("back to the list: %v", err)
	}
	pageCheck(t, ctx, axe, "the order list with placed orders")
	confirmInBrowser(t, ctx, axe, `#charge-all`, "Charge every placed order: 2 orders, $36.48 in all, each to the card saved with it?",
		"Batch #1 started: 2 orders, $36.48, are being charged in the background; the progress is below.")
	for deadline := time.Now().Add(30 * time.Second); mustText(t, ctx, `#charge-batches .batch-left`) != "0"; {
		if time.Now().After(deadline) {
			t.Fatalf("the batch never finished: %s", mustText(t, ctx, `#charge-batches`))
		}
		time.Sleep(200 * time.Millisecond)
		if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(`#charge-batches`)); err != nil {
			t.Fatal(err)
		}
	}
	pageCheck(t, ctx, axe, "the order list with a batch")
	if charged := mustText(t, ctx, `#charge-batches .batch-charged`); charged != "2" {
		t.Errorf("charged: %q, want 2", charged)
	}
	if list := mustText(t, ctx, `#orders`); strings.Count(list, "paid") != 2 {
		t.Errorf("the order list after the batch:\n%s", list)
	}
}
