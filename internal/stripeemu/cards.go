package stripeemu

import (
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// Card is what a customer types into the hosted checkout page.
type Card struct {
	Number string // digits, spaces allowed
	Expiry string // "MM / YY", "MM/YY" or "MM/YYYY"
	CVC    string
	Name   string
	Email  string
	// FailAuthentication makes a card that needs 3-D Secure fail the
	// authentication step instead of completing it (CompleteCheckout only; the
	// page has its own two buttons).
	FailAuthentication bool
}

// cardBehavior is how an emulated issuer treats a card, from DESIGN.md's
// test-card table; it is remembered per PaymentMethod so later off-session
// charges follow the same table.
type cardBehavior struct {
	// declineCode: the card is declined whenever it is used (setup or charge).
	declineCode string
	// needs3DS: customer-present use (the checkout page) asks for 3-D Secure.
	needs3DS bool
	// offSessionDecline: set up fine, but a later off-session charge fails with
	// this error code ("card_declined" or "authentication_required").
	offSessionDecline string
}

// testCards maps DESIGN.md's test cards to their behaviour; any other
// number behaves like 4242 4242 4242 4242.
var testCards = map[string]cardBehavior{
	"4000000000000002": {declineCode: "generic_decline"},
	"4000000000009995": {declineCode: "insufficient_funds"},
	"4000002500003155": {needs3DS: true},
	"4000002760003184": {needs3DS: true, offSessionDecline: "authentication_required"},
	"4000000000000341": {offSessionDecline: "card_declined"},
}

// cardDetails is a validated card.
type cardDetails struct {
	number   string
	brand    string
	expMonth int64
	expYear  int64
	cvc      string
	name     string
	email    string
	behavior cardBehavior
}

func (c cardDetails) last4() string { return c.number[len(c.number)-4:] }

// fingerprint is deterministic so the same number always yields the same
// fingerprint, as Stripe's does per account.
func (c cardDetails) fingerprint() string {
	sum := sha256.Sum256([]byte("stripeemu:" + c.number))
	return hex.EncodeToString(sum[:])[:16]
}

func cardBrand(number string) string {
	switch {
	case strings.HasPrefix(number, "4"):
		return "visa"
	case strings.HasPrefix(number, "34"), strings.HasPrefix(number, "37"):
		return "amex"
	case len(number) >= 2 && number[0] == '5' && number[1] >= '1' && number[1] <= '5':
		return "mastercard"
	case len(number) >= 2 && number[0] == '2' && number[1] >= '2' && number[1] <= '7':
		return "mastercard"
	case strings.HasPrefix(number, "6011"), strings.HasPrefix(number, "65"):
		return "discover"
	case strings.HasPrefix(number, "35"):
		return "jcb"
	case strings.HasPrefix(number, "36"), strings.HasPrefix(number, "30"):
		return "diners"
	}
	return "unknown"
}

func luhnValid(digits string) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func onlyDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// parseExpiry reads "MM / YY", "MM/YY", "MM/YYYY" or "MMYY".
func parseExpiry(s string) (month, year int64, msg string) {
	compact := strings.ReplaceAll(s, " ", "")
	if compact == "" {
		return 0, 0, "Your card's expiration date is incomplete."
	}
	var mm, yy string
	if i := strings.IndexByte(compact, '/'); i >= 0 {
		mm, yy = compact[:i], compact[i+1:]
	} else if len(compact) == 4 || len(compact) == 6 {
		mm, yy = compact[:2], compact[2:]
	} else {
		return 0, 0, "Your card's expiration date is incomplete."
	}
	if !onlyDigits(mm) || !onlyDigits(yy) || len(mm) > 2 || (len(yy) != 2 && len(yy) != 4) {
		return 0, 0, "Your card's expiration date is incomplete."
	}
	m, _ := strconv.ParseInt(mm, 10, 64)
	y, _ := strconv.ParseInt(yy, 10, 64)
	if m < 1 || m > 12 {
		return 0, 0, "Your card's expiration date is invalid."
	}
	if len(yy) == 2 {
		y += 2000
	}
	return m, y, ""
}

// validateCard checks the form's fields as Checkout does and returns the card or
// a ValidationError naming each bad field.
func validateCard(c Card, now time.Time) (cardDetails, *ValidationError) {
	var errs []FieldError
	add := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }

	email := strings.TrimSpace(c.Email)
	switch {
	case email == "":
		add("email", "Your email is incomplete.")
	case !plausibleEmail(email):
		add("email", "Your email address is invalid.")
	}

	number := strings.NewReplacer(" ", "", "-", "").Replace(c.Number)
	brand := ""
	switch {
	case number == "":
		add("cardNumber", "Your card number is incomplete.")
	case !onlyDigits(number):
		add("cardNumber", "Your card number is invalid.")
	case len(number) < 12:
		add("cardNumber", "Your card number is incomplete.")
	case len(number) > 19 || !luhnValid(number):
		add("cardNumber", "Your card number is invalid.")
	default:
		brand = cardBrand(number)
	}

	month, year, msg := parseExpiry(c.Expiry)
	if msg == "" {
		y, m := now.Year(), int64(now.Month())
		switch {
		case year < int64(y):
			msg = "Your card's expiration year is in the past."
		case year == int64(y) && month < m:
			msg = "Your card's expiration date is in the past."
		case year > int64(y)+50:
			msg = "Your card's expiration year is invalid."
		}
	}
	if msg != "" {
		add("cardExpiry", msg)
	}

	cvc := strings.TrimSpace(c.CVC)
	want := 3
	if brand == "amex" {
		want = 4
	}
	switch {
	case cvc == "":
		add("cardCvc", "Your card's security code is incomplete.")
	case !onlyDigits(cvc):
		add("cardCvc", "Your card's security code is invalid.")
	case len(cvc) < want:
		add("cardCvc", "Your card's security code is incomplete.")
	case len(cvc) > want:
		add("cardCvc", "Your card's security code is invalid.")
	}

	name := strings.TrimSpace(c.Name)
	if len(name) > 200 {
		add("billingName", "Your name is too long.")
	}

	if len(errs) > 0 {
		return cardDetails{}, &ValidationError{Fields: errs}
	}
	return cardDetails{
		number:   number,
		brand:    brand,
		expMonth: month,
		expYear:  year,
		cvc:      cvc,
		name:     name,
		email:    email,
		behavior: testCards[number],
	}, nil
}

func plausibleEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " <>\"") {
		return false
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}
