package billing

// DeclineKind says what a failed off-session charge calls for.
type DeclineKind string

// Decline kinds.
const (
	// DeclineSoft is a decline a later try can fix (funds arrive, a limit
	// resets, the issuer answers again): dunning retries it.
	DeclineSoft DeclineKind = "soft"
	// DeclineHard is a decline only the customer can fix (another card, a
	// call to the bank): retrying would fail again and may be penalised.
	DeclineHard DeclineKind = "hard"
	// DeclineAuthentication needs the customer present to authenticate.
	DeclineAuthentication DeclineKind = "authentication"
)

// softDeclines are the codes of Stripe's decline-code table whose next step
// is to attempt the payment again, or whose cause passes with time; the
// generic ones (card_declined with no reason, generic_decline,
// do_not_honor) are retried too, as issuers often use them for a
// temporary refusal. Every other code, and any code Stripe adds later, is
// hard: a retry that cannot work only risks the card network's penalties.
var softDeclines = map[string]bool{
	"approve_with_id":                 true, // "attempt the payment again"
	"card_declined":                   true, // a decline with no more specific reason
	"card_velocity_exceeded":          true, // a balance or limit that resets
	"do_not_honor":                    true,
	"generic_decline":                 true,
	"insufficient_funds":              true,
	"issuer_not_available":            true, // "attempt the payment again"
	"processing_error":                true, // "attempt the payment again"
	"reenter_transaction":             true, // "attempt the payment again"
	"try_again_later":                 true, // "ask the customer to attempt the payment again"
	"withdrawal_count_limit_exceeded": true, // a limit that resets
}

// ClassifyDecline sorts a failed charge by Stripe's error code and decline
// code (the decline code is the more specific; some failures carry only an
// error code, such as processing_error or expired_card).
func ClassifyDecline(code, declineCode string) DeclineKind {
	if code == "authentication_required" || declineCode == "authentication_required" {
		return DeclineAuthentication
	}
	reason := declineCode
	if reason == "" {
		reason = code
	}
	if softDeclines[reason] {
		return DeclineSoft
	}
	return DeclineHard
}
