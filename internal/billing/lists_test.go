package billing

import (
	"errors"
	"testing"
	"time"
)

func TestParsePaymentQuery(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(dayLayout, s); return d }
	for _, tc := range []struct {
		name                            string
		status, from, to, before, after string
		want                            PaymentQuery
		field                           string
	}{
		{name: "nothing", want: PaymentQuery{Limit: PaymentPageSize}},
		{name: "a status", status: "declined", want: PaymentQuery{Status: "declined", Limit: PaymentPageSize}},
		{name: "days, both included", from: "2026-03-01", to: "2026-03-31",
			want: PaymentQuery{From: day("2026-03-01"), Until: day("2026-04-01"), Limit: PaymentPageSize}},
		{name: "one day", from: "2026-03-01", to: "2026-03-01", want: PaymentQuery{From: day("2026-03-01"), Until: day("2026-03-02"), Limit: PaymentPageSize}},
		{name: "a cursor", before: "2026-03-01T10:00:00.123456Z", after: "42",
			want: PaymentQuery{Before: time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC), BeforeID: 42, Limit: PaymentPageSize}},
		{name: "an order status is not a charge's", status: "paid", field: "status"},
		{name: "a day written another way", from: "01/03/2026", field: "from"},
		{name: "no such day", to: "2026-02-30", field: "to"},
		{name: "the last day before the first", from: "2026-03-02", to: "2026-03-01", field: "to"},
		{name: "half a cursor", after: "42", field: "before"},
		{name: "a cursor id that is no id", before: "2026-03-01T10:00:00Z", after: "-1", field: "before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := ParsePaymentQuery(tc.status, tc.from, tc.to, tc.before, tc.after)
			var invalid *InvalidError
			switch {
			case tc.field != "":
				if !errors.As(err, &invalid) || invalid.Field != tc.field {
					t.Errorf("error %v, want one about %s", err, tc.field)
				}
			case err != nil:
				t.Errorf("error %v", err)
			case !q.From.Equal(tc.want.From) || !q.Until.Equal(tc.want.Until) || !q.Before.Equal(tc.want.Before) ||
				q.Status != tc.want.Status || q.BeforeID != tc.want.BeforeID || q.Limit != tc.want.Limit:
				t.Errorf("%+v, want %+v", q, tc.want)
			}
		})
	}
	q, _ := ParsePaymentQuery("", "2026-03-01", "2026-03-31", "", "")
	if Day(q.From, false) != "2026-03-01" || Day(q.Until, true) != "2026-03-31" || Day(time.Time{}, true) != "" {
		t.Errorf("the days written back: %q %q", Day(q.From, false), Day(q.Until, true))
	}
}

// TestPaymentTotals: each status counts under its heading; refunds under
// refunded whatever the status; a recovered charge is not a failed one.
func TestPaymentTotals(t *testing.T) {
	tot := NewPaymentTotals("usd")
	if tot.Recovered.Money.Display() != "$0.00" {
		t.Errorf("nothing recovered reads %q", tot.Recovered.Money.Display())
	}
	tot.Add(ChargeSucceeded, 3, 3000, 500, 1)
	tot.Add(ChargeDeclined, 2, 2000, 0, 0)
	tot.Add(ChargeAuthenticationRequired, 1, 700, 0, 0)
	tot.Add(ChargeFailed, 1, 100, 0, 0)
	tot.Add(ChargeRecovered, 1, 1000, 1000, 1)
	tot.Add(ChargeProcessing, 1, 50, 0, 0)
	usd := func(n int64) Money { return Money{Amount: n, Currency: "usd"} }
	want := PaymentTotals{Currency: "usd", Charged: PaymentTally{3, usd(3000)}, Failed: PaymentTally{4, usd(2800)},
		Recovered: PaymentTally{1, usd(1000)}, Refunded: PaymentTally{2, usd(1500)}, Processing: PaymentTally{1, usd(50)}}
	if tot != want {
		t.Errorf("%+v,\nwant %+v", tot, want)
	}
}

func TestParseEventQuery(t *testing.T) {
	if q, err := ParseEventQuery("payment_intent.succeeded", "failed", "", "", ""); err != nil || q.Type != "payment_intent.succeeded" || q.State != EventFailed {
		t.Errorf("%+v, %v", q, err)
	}
	last := StoredEvent{Event: Event{ID: "evt_123"}, ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), LastError: "boom"}
	state, before, id := NextEventPage(last)
	q, err := ParseEventQuery("", "", state, before, id)
	if err != nil || q.BeforeState != EventFailed || !q.Before.Equal(last.ReceivedAt) || q.BeforeID != "evt_123" {
		t.Errorf("the next page's cursor read back: %+v, %v", q, err)
	}
	for name, args := range map[string][5]string{
		"unknown state":           {"", "broken", "", "", ""},
		"a type with a space":     {"payment intent", "", "", "", ""},
		"a cursor without id":     {"", "", "failed", before, ""},
		"a cursor of no state":    {"", "", "", before, "evt_1"},
		"a cursor id of no event": {"", "", "applied", before, "pi_1"},
	} {
		if _, err := ParseEventQuery(args[0], args[1], args[2], args[3], args[4]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestEventStateOrder: failed events rank first, then pending, then applied,
// as the events list and its indexes sort them.
func TestEventStateOrder(t *testing.T) {
	applied := StoredEvent{AppliedAt: time.Now()}
	failed := StoredEvent{LastError: "stripe down"}
	pending := StoredEvent{}
	if applied.State() != EventApplied || failed.State() != EventFailed || pending.State() != EventPending {
		t.Errorf("states %s %s %s", applied.State(), failed.State(), pending.State())
	}
	if !(EventFailed.Rank() > EventPending.Rank() && EventPending.Rank() > EventApplied.Rank()) {
		t.Errorf("ranks %d %d %d", EventFailed.Rank(), EventPending.Rank(), EventApplied.Rank())
	}
}

// TestManageLinkToken: a manage link opens the cards of its customer only,
// for an hour, and no other kind of link opens them.
func TestManageLinkToken(t *testing.T) {
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	s := &Service{links: NewLinkSigner([]byte("a key"), ""), now: func() time.Time { return now }, baseURL: "https://shop.example"}
	link := s.ManageLink(42)
	token := link[len("https://shop.example"+ManageLinkPath):]
	if id, expires, err := s.readSignedToken(manageTokenPurpose, token); err != nil || id != 42 || !expires.Equal(now.Add(ManageLinkTTL)) {
		t.Errorf("manage token: %d %v %v", id, expires, err)
	}
	if _, err := s.verifySignedToken(cardTokenPurpose, token); err != ErrLinkInvalid {
		t.Errorf("a manage token as a card link: %v", err)
	}
	card := s.signedToken(cardTokenPurpose, 42, now.Add(time.Hour))
	if _, err := s.verifySignedToken(manageTokenPurpose, card); err != ErrLinkInvalid {
		t.Errorf("a card token as a manage link: %v", err)
	}
	if _, err := s.verifySignedToken(manageTokenPurpose, s.recoveryToken(42, now.Add(time.Hour))); err != ErrLinkInvalid {
		t.Errorf("a payment token as a manage link: %v", err)
	}
	later := &Service{links: s.links, now: func() time.Time { return now.Add(ManageLinkTTL + time.Second) }}
	if _, err := later.verifySignedToken(manageTokenPurpose, token); err != ErrLinkExpired {
		t.Errorf("a manage token after an hour: %v, want expired", err)
	}
}
