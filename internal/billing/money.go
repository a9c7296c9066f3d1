package billing

import (
	"maps"
	"slices"
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

// String is Display, so that money printed with %s or %v anywhere (an
// email, a log line, a command's output) reads as it does on the pages.
func (m Money) String() string { return m.Display() }

// currencySymbols are the currencies shown with a symbol of their own; the
// others are shown with their code ("CHF 12.00"), which nobody misreads.
var currencySymbols = map[string]string{"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "inr": "₹", "krw": "₩", "vnd": "₫", "brl": "R$"}

// sharedSymbols are the currencies whose symbol another supported currency
// uses too (the dollar's): their code follows the amount ("$10.99 CAD").
var sharedSymbols = map[string]string{"cad": "$", "aud": "$", "nzd": "$", "sgd": "$", "hkd": "$", "mxn": "$"}

// Display formats m for people, the one way every page, email and command
// shows money: the currency's symbol, thousands grouped, and every decimal
// place of the currency: "$10.99", "¥1,099", "€10.99", "$1,250.00 CAD"
// (the code beside a symbol that is not the currency's alone), "CHF 12.00"
// (the code where there is no symbol). Without a currency (the zero Money)
// it is only the amount.
func (m Money) Display() string {
	exp, _ := CurrencyExponent(m.Currency)
	amount := groupedDecimal(m.Amount, exp)
	sign := ""
	if m.Amount < 0 {
		sign, amount = "-", amount[1:]
	}
	code := strings.ToUpper(m.Currency)
	if symbol, ok := currencySymbols[m.Currency]; ok {
		return sign + symbol + amount
	}
	if symbol, ok := sharedSymbols[m.Currency]; ok {
		return sign + symbol + amount + " " + code
	}
	if code == "" {
		return sign + amount
	}
	return sign + code + " " + amount
}

// Decimal returns the amount as a plain decimal string in major units without
// currency ("10.99", "500", "1.230"), the inverse of ParseMoney. It always
// writes every decimal place of the currency. An unsupported currency is
// treated as having no decimal places.
func (m Money) Decimal() string {
	exp, _ := CurrencyExponent(m.Currency)
	return decimalString(m.Amount, exp)
}

// currencyExponents are the decimal places of each supported currency
// (a lower-case ISO code). The groups follow Stripe's currency
// documentation; the zero-decimal ones are Stripe's list.
var currencyExponents = map[string]int{
	"usd": 2, "eur": 2, "gbp": 2, "cad": 2, "aud": 2, "nzd": 2, "chf": 2, "sek": 2, "nok": 2, "dkk": 2,
	"pln": 2, "czk": 2, "huf": 2, "sgd": 2, "hkd": 2, "mxn": 2, "brl": 2, "inr": 2,
	"bif": 0, "clp": 0, "djf": 0, "gnf": 0, "jpy": 0, "kmf": 0, "krw": 0, "mga": 0, "pyg": 0, "rwf": 0,
	"ugx": 0, "vnd": 0, "vuv": 0, "xaf": 0, "xof": 0, "xpf": 0,
	"bhd": 3, "jod": 3, "kwd": 3, "omr": 3, "tnd": 3,
}

// CurrencyExponent returns the number of decimal places of a supported
// currency (a lower-case ISO code), and whether it is supported.
func CurrencyExponent(currency string) (int, bool) {
	exp, ok := currencyExponents[currency]
	return exp, ok
}

// Currencies lists the supported currencies' lower-case codes in
// alphabetical order, for a menu.
func Currencies() []string {
	return slices.Sorted(maps.Keys(currencyExponents))
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

// groupedDecimal is decimalString with commas between thousands
// ("999,999.99", "-1,099"), as people read amounts.
func groupedDecimal(amount int64, exp int) string {
	s := decimalString(amount, exp)
	sign := ""
	if amount < 0 {
		sign, s = "-", s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
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
