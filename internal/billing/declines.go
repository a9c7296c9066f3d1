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

// declineReasons say in plain words why a card refused a charge, by the
// codes of Stripe's decline-code table (and the error codes that come
// without a decline code); several codes share one reason.
var declineReasons = map[string]string{
	"authentication_required":           "the bank asks the customer to authenticate the payment",
	"approve_with_id":                   "the bank could not authorize the payment",
	"call_issuer":                       "the bank declined; the customer should call it",
	"card_declined":                     "the bank declined without saying why",
	"card_not_supported":                "the card does not support this kind of payment",
	"card_velocity_exceeded":            "the card's balance or credit limit is exceeded",
	"currency_not_supported":            "the card does not support this currency",
	"do_not_honor":                      "the bank declined without saying why",
	"do_not_try_again":                  "the bank declined and asks not to try again",
	"duplicate_transaction":             "the same payment was just made with this card",
	"expired_card":                      "the card has expired",
	"fraudulent":                        "the payment was declined as possibly fraudulent",
	"generic_decline":                   "the bank declined without saying why",
	"incorrect_cvc":                     "the security code is wrong",
	"incorrect_number":                  "the card number is wrong",
	"incorrect_zip":                     "the postal code is wrong",
	"insufficient_funds":                "not enough funds on the card",
	"invalid_account":                   "the card or its account is no longer valid",
	"invalid_amount":                    "the amount is not allowed for this card",
	"invalid_cvc":                       "the security code is wrong",
	"invalid_expiry_month":              "the expiry date is wrong",
	"invalid_expiry_year":               "the expiry date is wrong",
	"invalid_number":                    "the card number is wrong",
	"issuer_not_available":              "the bank could not be reached",
	"lost_card":                         "the card was reported lost",
	"merchant_blacklist":                "the card is on the store's block list",
	"new_account_information_available": "the card or its account is no longer valid",
	"no_action_taken":                   "the bank could not authorize the payment",
	"not_permitted":                     "the payment is not permitted",
	"pickup_card":                       "the card cannot be used (reported lost or stolen)",
	"pin_try_exceeded":                  "too many wrong PIN entries",
	"processing_error":                  "an error occurred while processing the card",
	"reenter_transaction":               "the bank could not process the payment",
	"restricted_card":                   "the card cannot be used for this payment",
	"revocation_of_all_authorizations":  "the customer stopped payments to this store",
	"revocation_of_authorization":       "the customer stopped payments to this store",
	"security_violation":                "the bank declined for security reasons",
	"service_not_allowed":               "the card does not support this kind of payment",
	"stolen_card":                       "the card was reported stolen",
	"stop_payment_order":                "the customer stopped payments to this store",
	"testmode_decline":                  "a Stripe test card was used",
	"transaction_not_allowed":           "the card does not support this kind of payment",
	"try_again_later":                   "the bank declined for now",
	"withdrawal_count_limit_exceeded":   "the card's balance or credit limit is exceeded",
}

// DeclineReason says in plain words why a charge was refused, from Stripe's
// error code and decline code (the decline code is the more specific); a
// code Stripe adds later reads "the card was declined". No codes: "".
func DeclineReason(code, declineCode string) string {
	for _, c := range []string{declineCode, code} {
		if reason, ok := declineReasons[c]; ok {
			return reason
		}
	}
	if code == "" && declineCode == "" {
		return ""
	}
	return "the card was declined"
}

// DeclineCodes is Stripe's codes for a refusal as one detail line:
// "card_declined / insufficient_funds", a code once when both are the same.
func DeclineCodes(code, declineCode string) string {
	if declineCode == "" || declineCode == code {
		return code
	}
	if code == "" {
		return declineCode
	}
	return code + " / " + declineCode
}
