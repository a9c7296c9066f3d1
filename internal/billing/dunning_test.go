package billing

import (
	"testing"
	"time"
)

func TestClassifyDecline(t *testing.T) {
	cases := []struct {
		code, declineCode string
		want              DeclineKind
	}{
		{"card_declined", "insufficient_funds", DeclineSoft},
		{"card_declined", "generic_decline", DeclineSoft},
		{"card_declined", "do_not_honor", DeclineSoft},
		{"card_declined", "try_again_later", DeclineSoft},
		{"card_declined", "card_velocity_exceeded", DeclineSoft},
		{"card_declined", "", DeclineSoft}, // no reason given: the generic decline
		{"processing_error", "", DeclineSoft},
		{"card_declined", "processing_error", DeclineSoft},
		{"card_declined", "lost_card", DeclineHard},
		{"card_declined", "stolen_card", DeclineHard},
		{"card_declined", "pickup_card", DeclineHard},
		{"card_declined", "fraudulent", DeclineHard},
		{"card_declined", "do_not_try_again", DeclineHard},
		{"expired_card", "", DeclineHard},
		{"card_declined", "expired_card", DeclineHard},
		{"incorrect_number", "", DeclineHard},
		{"card_declined", "a_code_stripe_adds_later", DeclineHard},
		{"authentication_required", "authentication_required", DeclineAuthentication},
		{"card_declined", "authentication_required", DeclineAuthentication},
	}
	for _, tc := range cases {
		if got := ClassifyDecline(tc.code, tc.declineCode); got != tc.want {
			t.Errorf("ClassifyDecline(%q, %q) = %s, want %s", tc.code, tc.declineCode, got, tc.want)
		}
	}
}

func TestParseDunningSchedule(t *testing.T) {
	h := time.Hour
	cases := []struct {
		in      string
		want    []time.Duration
		wantErr bool
	}{
		{"", nil, false},
		{"off", []time.Duration{}, false},
		{"24h,72h,120h", []time.Duration{24 * h, 72 * h, 120 * h}, false},
		{" 1h , 2h30m ", []time.Duration{h, 150 * time.Minute}, false},
		{"72h,24h", nil, true},
		{"24h,24h", nil, true},
		{"0s", nil, true},
		{"-1h", nil, true},
		{"1d", nil, true},
		{"24h,", nil, true},
		{"1h,2h,3h,4h,5h,6h,7h,8h,9h", nil, true},
		{"721h", nil, true},
	}
	for _, tc := range cases {
		got, err := ParseDunningSchedule(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseDunningSchedule(%q): err %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if tc.wantErr {
			continue
		}
		if (got == nil) != (tc.want == nil) || len(got) != len(tc.want) {
			t.Errorf("ParseDunningSchedule(%q) = %#v, want %#v", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("ParseDunningSchedule(%q)[%d] = %s, want %s", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

// TestRetryFollowUp: what each retry's outcome does to its dunning, and
// that the customer hears of it only at the end.
func TestRetryFollowUp(t *testing.T) {
	start := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	s := &Service{dunning: DefaultDunningSchedule(), baseURL: "https://shop.example", links: NewLinkSigner([]byte("a key"), ""),
		now: func() time.Time { return start.Add(25 * time.Hour) }}
	orig := ChargeAttempt{ID: 7, Status: ChargeDeclined, Money: Money{Amount: 1000, Currency: "usd"}, CustomerEmail: "a@example.com",
		Dunning: Dunning{AttemptID: 7, Status: DunningRetrying, StartedAt: start}}
	soft := ChargeOutcome{Code: "card_declined", DeclineCode: "insufficient_funds"}
	cases := []struct {
		name       string
		n          int
		status     string
		outcome    ChargeOutcome
		want       DunningStatus
		wantNext   time.Time
		wantNotify bool
	}{
		{"paid", 1, ChargeSucceeded, ChargeOutcome{PaymentIntentID: "pi_1", Status: "succeeded"}, DunningSucceeded, time.Time{}, false},
		{"soft: the next retry, from the first decline", 1, ChargeDeclined, soft, DunningRetrying, start.Add(72 * time.Hour), false},
		{"soft at the last retry: give up and write", 3, ChargeDeclined, soft, DunningGaveUp, time.Time{}, true},
		{"hard: stop and write", 1, ChargeDeclined, ChargeOutcome{Code: "card_declined", DeclineCode: "lost_card"}, DunningStopped, time.Time{}, true},
		{"authentication: stop and write", 2, ChargeAuthenticationRequired, ChargeOutcome{Code: "authentication_required"}, DunningStopped, time.Time{}, true},
		{"refused by Stripe: stop and write", 1, ChargeFailed, ChargeOutcome{Code: "resource_missing"}, DunningStopped, time.Time{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			retry := ChargeAttempt{ID: 20 + int64(tc.n), RetryOf: orig.ID, RetryNumber: tc.n}
			f := s.retryFollowUp(orig, retry, tc.status, tc.outcome)
			if f.Dunning == nil || f.Dunning.Status != tc.want || f.Dunning.From != tc.n-1 || f.Dunning.RetriesDone != tc.n ||
				!f.Dunning.NextRetryAt.Equal(tc.wantNext) || f.Dunning.AttemptID != orig.ID || f.Dunning.LastAttemptID != retry.ID {
				t.Fatalf("dunning change %+v, want %s next %s", f.Dunning, tc.want, tc.wantNext)
			}
			if (f.Notify != nil) != tc.wantNotify {
				t.Fatalf("notify %+v, want one: %v", f.Notify, tc.wantNotify)
			}
			if f.Notify != nil && (f.Notify.ChargeAttemptID != orig.ID || f.Notify.Kind != NotificationPaymentFailed || f.Notify.Link == "") {
				t.Errorf("the message is not about the declined charge: %+v", f.Notify)
			}
			if tc.want == DunningSucceeded && f.Dunning.PaidBy != "pi_1" {
				t.Errorf("paid by %q", f.Dunning.PaidBy)
			}
		})
	}
	t.Run("a retry overdue after missed runs waits an hour after the last", func(t *testing.T) {
		late := &Service{dunning: s.dunning, baseURL: s.baseURL, links: s.links,
			now: func() time.Time { return start.Add(100 * time.Hour) }}
		f := late.retryFollowUp(orig, ChargeAttempt{ID: 21, RetryOf: 7, RetryNumber: 1}, ChargeDeclined, soft)
		if want := start.Add(101 * time.Hour); !f.Dunning.NextRetryAt.Equal(want) {
			t.Errorf("next retry %s, want %s", f.Dunning.NextRetryAt, want)
		}
	})
	if f := s.retryFollowUp(orig, ChargeAttempt{ID: 21, RetryOf: 7, RetryNumber: 1}, ChargeProcessing, ChargeOutcome{}); f.Dunning != nil || f.Notify != nil {
		t.Errorf("an unknown outcome takes no step: %+v", f)
	}
}

func TestDunningKey(t *testing.T) {
	a, b := dunningKey("KEYOFTHEATTEMPT1", 1), dunningKey("KEYOFTHEATTEMPT1", 2)
	if a == b || a != dunningKey("KEYOFTHEATTEMPT1", 1) || a == dunningKey("KEYOFANOTHERONE1", 1) {
		t.Errorf("keys %q %q: want one per attempt and retry, the same every time", a, b)
	}
	if !idempotencyKeyPattern.MatchString(a) {
		t.Errorf("%q is not a valid idempotency key", a)
	}
}

// TestSignedTokenPurposes: a card link never opens a payment, nor the reverse.
func TestSignedTokenPurposes(t *testing.T) {
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	s := &Service{links: NewLinkSigner([]byte("a key"), ""), now: func() time.Time { return now }}
	card := s.signedToken(cardTokenPurpose, 42, now.Add(time.Hour))
	pay := s.recoveryToken(42, now.Add(time.Hour))
	if id, err := s.verifySignedToken(cardTokenPurpose, card); err != nil || id != 42 {
		t.Errorf("card token: %d, %v", id, err)
	}
	if id, err := s.verifyRecoveryToken(pay); err != nil || id != 42 {
		t.Errorf("recovery token: %d, %v", id, err)
	}
	if _, err := s.verifyRecoveryToken(card); err != ErrLinkInvalid {
		t.Errorf("a card token as a payment link: %v, want invalid", err)
	}
	if _, err := s.verifySignedToken(cardTokenPurpose, pay); err != ErrLinkInvalid {
		t.Errorf("a payment token as a card link: %v, want invalid", err)
	}
	later := &Service{links: s.links, now: func() time.Time { return now.Add(2 * time.Hour) }}
	if _, err := later.verifySignedToken(cardTokenPurpose, card); err != ErrLinkExpired {
		t.Errorf("an old card token: %v, want expired", err)
	}
}
