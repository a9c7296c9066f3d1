package main

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit/stripespec"
)

// emulatorWithSavedCard runs a separate emulator holding the events of one
// saved card, none of them delivered anywhere.
func emulatorWithSavedCard(t *testing.T, cards ...string) string {
	t.Helper()
	emu := stripeemu.New(stripeemu.Options{})
	srv := httptest.NewServer(stripespec.Checked(t, emu.Handler()))
	emu.SetPublicURL(srv.URL)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	ctx := context.Background()
	g := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_x", APIBase: srv.URL})
	if len(cards) == 0 {
		cards = []string{"4242424242424242"}
	}
	for i, number := range cards {
		email := "ops@example.com"
		if i > 0 {
			email = "ops" + strconv.Itoa(i) + "@example.com"
		}
		customer, err := g.CreateCustomer(ctx, email, "ops-"+email)
		if err != nil {
			t.Fatal(err)
		}
		s, err := g.CreateSetupSession(ctx, billing.SetupSessionParams{StripeCustomerID: customer, Currency: "usd",
			SuccessURL: "http://x/success?session_id={CHECKOUT_SESSION_ID}", CancelURL: "http://x/cancel"})
		if err != nil {
			t.Fatal(err)
		}
		if err := emu.CompleteCheckout(ctx, s.ID, stripeemu.Card{Number: number, Expiry: "12/34", CVC: "123", Email: email}); err != nil {
			t.Fatal(err)
		}
	}
	return srv.URL
}

var syncLine = regexp.MustCompile(`sync: (\d+) events since \S+: (\d+) already applied, (\d+) applied now, (\d+) failed`)

func syncCounts(t *testing.T, out string) (found, already, applied int) {
	t.Helper()
	m := syncLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary line in %q", out)
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	return n(m[1]), n(m[2]), n(m[3])
}

func TestSyncCommandFromSeveralMachinesAppliesEachEventOnce(t *testing.T) {
	apiBase := emulatorWithSavedCard(t)
	_, dbURL := pg.NewDBWithURL(t)
	env := func(k string) string {
		return map[string]string{"DATABASE_URL": dbURL, "STRIPE_API_BASE": apiBase}[k]
	}
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, 3)
	for i := range outs {
		wg.Go(func() {
			if err := run(context.Background(), []string{"sync", "--since", "1h"}, env, nil, &outs[i], io.Discard); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	total := 0
	found := 0
	for i := range outs {
		f, _, applied := syncCounts(t, outs[i].String())
		total += applied
		found = f
	}
	if found == 0 || total != found {
		t.Errorf("three concurrent syncs applied %d events in all, want each of the %d once", total, found)
	}
	var again bytes.Buffer
	if err := run(context.Background(), []string{"sync"}, env, nil, &again, io.Discard); err != nil {
		t.Fatal(err)
	}
	if f, already, applied := syncCounts(t, again.String()); applied != 0 || already != f {
		t.Errorf("a later sync: %q, want nothing applied", again.String())
	}
}

func TestOperatorCommandsExplainWhatTheyNeed(t *testing.T) {
	_, dbURL := pg.NewDBWithURL(t)
	env := func(k string) string { return map[string]string{"DATABASE_URL": dbURL}[k] }
	for _, args := range [][]string{{"sync"}, {"events", "replay", "evt_1"}} {
		err := run(context.Background(), args, env, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "STRIPE_API_BASE") {
			t.Errorf("%v in local mode without an emulator: %v", args, err)
		}
	}
	for _, args := range [][]string{{"events"}, {"events", "list"}, {"sync", "--since", "2000h"}} {
		if err := run(context.Background(), args, env, nil, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: want a usage error", args)
		}
	}
	withEmulator := func(k string) string {
		return map[string]string{"DATABASE_URL": dbURL, "STRIPE_API_BASE": "http://127.0.0.1:1"}[k]
	}
	if err := run(context.Background(), []string{"events", "replay", "../customers"}, withEmulator, nil, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not an event id") {
		t.Errorf("replay of a malformed id: %v", err)
	}
}

func TestEventsReplayCommand(t *testing.T) {
	apiBase := emulatorWithSavedCard(t)
	_, dbURL := pg.NewDBWithURL(t)
	env := func(k string) string {
		return map[string]string{"DATABASE_URL": dbURL, "STRIPE_API_BASE": apiBase}[k]
	}
	g := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_x", APIBase: apiBase})
	events, err := g.ListEvents(context.Background(), nowMinusHour(), []string{billing.EventCheckoutSessionCompleted})
	if err != nil || len(events) != 1 {
		t.Fatalf("events: %v, %v", events, err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"events", "replay", events[0].ID}, env, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "replayed "+events[0].ID) {
		t.Errorf("output %q", out.String())
	}
}

func TestChargeCommand(t *testing.T) {
	apiBase := emulatorWithSavedCard(t, "4242424242424242", "4000000000000341")
	_, dbURL := pg.NewDBWithURL(t)
	env := func(k string) string {
		return map[string]string{"DATABASE_URL": dbURL, "STRIPE_API_BASE": apiBase, "BASE_URL": "https://shop.example", "LOCAL_MODE": "true"}[k]
	}
	ctx := context.Background()
	if err := run(ctx, []string{"sync", "--since", "1h"}, env, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		args    []string
		wantErr bool
		out     string
	}{
		"default card":   {[]string{"--customer", "OPS@example.com", "--amount", "10.99"}, false, "succeeded $10.99"},
		"yen":            {[]string{"--customer", "ops@example.com", "--amount", "500", "--currency", "jpy"}, false, "succeeded ¥500"},
		"declined":       {[]string{"--customer", "ops1@example.com", "--amount", "12"}, true, "recovery link: https://shop.example/pay/"},
		"bad amount":     {[]string{"--customer", "ops@example.com", "--amount", "1e3"}, true, ""},
		"no customer":    {[]string{"--customer", "nobody@example.com", "--amount", "10"}, true, ""},
		"someone's card": {[]string{"--customer", "ops@example.com", "--amount", "10", "--payment-method", "pm_notHers"}, true, ""},
		"missing amount": {[]string{"--customer", "ops@example.com"}, true, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(ctx, append([]string{"charge"}, tc.args...), env, nil, &out, io.Discard)
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error: %v\n%s", err, tc.wantErr, out.String())
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("output %q lacks %q", out.String(), tc.out)
			}
		})
	}
}
