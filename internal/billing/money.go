package billing

import (
	"strconv"
	"strings"
)

// maxAmount is Stripe's limit for most currencies: eight digits of minor units
// (999,999.99 USD, 99,999,999 JPY).
const maxAmount = 99_999_999

// Money is an amount in a currency's minor units (cents for usd, yen for jpy,
// fils for kwd). Currency is a lower-case ISO 4217 code, as Stripe expects.
type Money struct {
	Amount   int64
	Currency string
}

// ParseMoney parses a decimal string typed by a person, in the given currency,
// into minor units. The currency is trimmed and case-insensitive. The amount
// may have surrounding white space and is otherwise only ASCII digits,
// optionally followed by '.' and at most as many digits as the currency has
// decimal places: no sign, exponent or thousands separators. The result must
// lie between Stripe's minimum charge for the currency and 99,999,999 minor
// units. Every rejection is an *InvalidError on "currency" or "amount".
func ParseMoney(amount, currency string) (Money, error) {
	m, err := parseAmount(amount, currency)
	if err != nil {
		return Money{}, err
	}
	if minimum := minimumCharge(m.Currency); m.Amount < minimum {
		exp, _ := CurrencyExponent(m.Currency)
		return Money{}, Invalid("amount", "The minimum charge in %s is %s.", strings.ToUpper(m.Currency), groupedDecimal(minimum, exp))
	}
	return m, nil
}

// ParseAmount is ParseMoney without Stripe's minimum charge, for amounts
// that are not charged on their own: a product's price, a partial refund.
// Zero is refused all the same.
func ParseAmount(amount, currency string) (Money, error) {
	m, err := parseAmount(amount, currency)
	if err == nil && m.Amount == 0 {
		return Money{}, Invalid("amount", "Enter an amount greater than zero.")
	}
	return m, err
}

func parseAmount(amount, currency string) (Money, error) {
	cur, err := normalizeCurrency(currency)
	if err != nil {
		return Money{}, err
	}
	exp, _ := CurrencyExponent(cur)
	code := strings.ToUpper(cur)

	s := strings.TrimSpace(amount)
	if s == "" {
		return Money{}, Invalid("amount", "Enter an amount.")
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if !allDigits(whole) || (hasDot && !allDigits(frac)) {
		return Money{}, Invalid("amount", "Enter an amount like %s, using only digits and a '.' for decimals.", exampleAmount(exp))
	}
	if hasDot && exp == 0 {
		return Money{}, Invalid("amount", "%s amounts have no decimal places. Enter a whole number like %s.", code, exampleAmount(exp))
	}
	// Extra zeros ("10.990" in USD) are rejected too: one simple rule is easier
	// to explain than "at most two decimals unless the rest are zeros".
	if len(frac) > exp {
		return Money{}, Invalid("amount", "%s amounts have at most %d decimal places.", code, exp)
	}
	// Stripe charges three-decimal currencies only in multiples of 10 minor units.
	if exp == 3 && len(frac) == 3 && frac[2] != '0' {
		return Money{}, Invalid("amount", "%s amounts can have 3 decimal places, but the last one must be 0, like %s.", code, exampleAmount(exp))
	}

	// Accumulate the digits, padded to exp decimals, stopping as soon as the
	// value passes the maximum so that no input can overflow int64.
	var v int64
	digits := whole + frac + strings.Repeat("0", exp-len(frac))
	for i := 0; i < len(digits); i++ {
		v = v*10 + int64(digits[i]-'0')
		if v > maxAmount {
			return Money{}, Invalid("amount", "The maximum charge in %s is %s.", code, groupedDecimal(maxAmount, exp))
		}
	}
	return Money{Amount: v, Currency: cur}, nil
}

// String formats m for people as the upper-case currency code, a space and the
// plain decimal amount: "USD 10.99", "JPY 500", "KWD 1.230". It has no
// thousands separators or symbols, so it reads the same in every locale.
// Without a currency (the zero Money) it is only the amount.
func (m Money) String() string {
	if m.Currency == "" {
		return m.Decimal()
	}
	return strings.ToUpper(m.Currency) + " " + m.Decimal()
}

// currencySymbols are the currencies shown with a symbol; the others are
// shown with their code ("CHF 10.00"), which nobody misreads.
var currencySymbols = map[string]string{"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}

// Display formats m for customers: "$10.99", "€8.50", "CHF 12.00".
func (m Money) Display() string {
	if symbol, ok := currencySymbols[m.Currency]; ok {
		if m.Amount < 0 {
			return "-" + symbol + Money{Amount: -m.Amount, Currency: m.Currency}.Decimal()
		}
		return symbol + m.Decimal()
	}
	return m.String()
}

// Decimal returns the amount as a plain decimal string in major units without
// currency ("10.99", "500", "1.230"), the inverse of ParseMoney. It always
// writes every decimal place of the currency. An unsupported currency is
// treated as having no decimal places.
func (m Money) Decimal() string {
	exp, _ := CurrencyExponent(m.Currency)
	return decimalString(m.Amount, exp)
}

// CurrencyExponent returns the number of decimal places of a supported
// currency (a lower-case ISO code), and whether it is supported. The groups
// follow Stripe's currency documentation.
func CurrencyExponent(currency string) (int, bool) {
	switch currency {
	case "usd", "eur", "gbp", "cad", "aud", "nzd", "chf", "sek", "nok", "dkk",
		"pln", "czk", "huf", "sgd", "hkd", "mxn", "brl", "inr":
		return 2, true
	case "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf",
		"ugx", "vnd", "vuv", "xaf", "xof", "xpf":
		return 0, true // Stripe's zero-decimal currencies.
	case "bhd", "jod", "kwd", "omr", "tnd":
		return 3, true
	}
	return 0, false
}

// minimumCharge returns the smallest amount, in minor units, that Stripe will
// charge in a supported currency. The listed values are Stripe's minimum charge
// amounts; other currencies get 50 minor units (500 for three-decimal ones),
// the same order as Stripe's 0.50 USD floor for unlisted currencies.
func minimumCharge(currency string) int64 {
	switch currency {
	case "usd", "eur", "cad", "aud", "nzd", "chf", "sgd", "brl", "inr", "jpy":
		return 50
	case "gbp":
		return 30
	case "sek", "nok":
		return 300
	case "dkk":
		return 250
	case "pln":
		return 200
	case "czk":
		return 1500
	case "huf":
		return 17500
	case "hkd":
		return 400
	case "mxn":
		return 1000
	}
	if exp, _ := CurrencyExponent(currency); exp == 3 {
		return 500
	}
	return 50
}

// normalizeCurrency trims and lower-cases a currency code and checks that it
// is supported. It checks for ASCII letters before lower-casing because
// strings.ToLower maps some non-ASCII runes (the Kelvin sign) to ASCII ones.
func normalizeCurrency(currency string) (string, error) {
	c := strings.TrimSpace(currency)
	if c == "" {
		return "", Invalid("currency", "Choose a currency.")
	}
	if len(c) == 3 && isASCIILetter(c[0]) && isASCIILetter(c[1]) && isASCIILetter(c[2]) {
		c = strings.ToLower(c)
		if _, ok := CurrencyExponent(c); ok {
			return c, nil
		}
	}
	return "", Invalid("currency", "Choose a supported currency, such as USD or EUR.")
}

func isASCIILetter(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }

// allDigits reports whether s is non-empty and only ASCII digits; unicode
// digits such as "１０" are not accepted.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// exampleAmount is a valid-looking amount with exp decimal places, for messages.
func exampleAmount(exp int) string {
	switch exp {
	case 0:
		return "500"
	case 3:
		return "10.250"
	}
	return "10.99"
}

// decimalString writes minor units as a decimal with exp places. It works on
// the magnitude as a uint64 so that even math.MinInt64 formats correctly.
func decimalString(amount int64, exp int) string {
	sign := ""
	mag := uint64(amount)
	if amount < 0 {
		sign = "-"
		mag = -mag
	}
	s := strconv.FormatUint(mag, 10)
	if exp == 0 {
		return sign + s
	}
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	return sign + s[:len(s)-exp] + "." + s[len(s)-exp:]
}

// groupedDecimal is decimalString for messages, with commas between thousands
// ("999,999.99") so that limits are easy to read. amount is never negative.
func groupedDecimal(amount int64, exp int) string {
	s := decimalString(amount, exp)
	whole, frac, hasDot := strings.Cut(s, ".")
	var b strings.Builder
	for i := 0; i < len(whole); i++ {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(whole[i])
	}
	if hasDot {
		b.WriteString("." + frac)
	}
	return b.String()
}
