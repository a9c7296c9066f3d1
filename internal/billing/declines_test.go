package billing

import "testing"

func TestDeclineReason(t *testing.T) {
	cases := map[string]struct {
		code, declineCode, reason, codes string
	}{
		"funds":           {"card_declined", "insufficient_funds", "not enough funds on the card", "card_declined / insufficient_funds"},
		"authentication":  {"authentication_required", "authentication_required", "the bank asks the customer to authenticate the payment", "authentication_required"},
		"code only":       {"expired_card", "", "the card has expired", "expired_card"},
		"generic":         {"card_declined", "generic_decline", "the bank declined without saying why", "card_declined / generic_decline"},
		"a code to come":  {"card_declined", "brand_new_code", "the bank declined without saying why", "card_declined / brand_new_code"},
		"unknown alone":   {"", "brand_new_code", "the card was declined", "brand_new_code"},
		"no failure":      {"", "", "", ""},
		"decline wins":    {"processing_error", "lost_card", "the card was reported lost", "processing_error / lost_card"},
		"code before new": {"incorrect_cvc", "", "the security code is wrong", "incorrect_cvc"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := DeclineReason(tc.code, tc.declineCode); got != tc.reason {
				t.Errorf("DeclineReason(%q, %q) = %q, want %q", tc.code, tc.declineCode, got, tc.reason)
			}
			if got := DeclineCodes(tc.code, tc.declineCode); got != tc.codes {
				t.Errorf("DeclineCodes(%q, %q) = %q, want %q", tc.code, tc.declineCode, got, tc.codes)
			}
		})
	}
}

func TestFailureReasons(t *testing.T) {
	declined := ChargeAttempt{Status: ChargeDeclined, FailureCode: "card_declined", DeclineCode: "insufficient_funds"}
	if got := declined.FailureReason(); got != "not enough funds on the card" {
		t.Errorf("declined: %q", got)
	}
	declined.Status = ChargeRecovered
	if got := declined.FailureReason(); got != "not enough funds on the card" {
		t.Errorf("recovered keeps why it failed first: %q", got)
	}
	refused := ChargeAttempt{Status: ChargeFailed, FailureCode: "parameter_invalid_integer", FailureMessage: "Invalid integer"}
	if got := refused.FailureReason(); got != "Stripe refused the request itself, not the card" {
		t.Errorf("failed: %q", got)
	}
	if got := (ChargeAttempt{Status: ChargeSucceeded}).FailureReason(); got != "" {
		t.Errorf("succeeded: %q", got)
	}
	card := PaymentMethod{Failing: true, LastFailureCode: "card_declined", LastDeclineCode: "stolen_card"}
	if got := card.FailureReason(); got != "the card was reported stolen" {
		t.Errorf("failing card: %q", got)
	}
	card.Failing = false
	if got := card.FailureReason(); got != "" {
		t.Errorf("a card whose last charge went through: %q", got)
	}
}
