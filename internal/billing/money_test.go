package billing

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

type parseMoneyCase struct {
	name             string
	amount, currency string
	want             Money  // for good cases
	field            string // for bad cases: the InvalidError's Field
	msg              string // for bad cases: a part of the Message, if it matters
}

// parseMoneyCases is a func, not a package variable, so no test can change
// what another one sees; the fuzz test seeds its corpus from it.
func parseMoneyCases() []parseMoneyCase {
	return []parseMoneyCase{
		{name: "whole", amount: "10", currency: "usd", want: Money{1000, "usd"}},
		{name: "one decimal", amount: "10.9", currency: "usd", want: Money{1090, "usd"}},
		{name: "two decimals", amount: "10.99", currency: "usd", want: Money{1099, "usd"}},
		{name: "minimum", amount: "0.50", currency: "usd", want: Money{50, "usd"}},
		{name: "surrounding spaces", amount: " 10.99 ", currency: "usd", want: Money{1099, "usd"}},
		{name: "leading zeros", amount: "007.50", currency: "usd", want: Money{750, "usd"}},
		{name: "largest usd", amount: "999999.99", currency: "usd", want: Money{99999999, "usd"}},
		{name: "upper-case currency", amount: "10.99", currency: "USD", want: Money{1099, "usd"}},
		{name: "spaced currency", amount: "10.99", currency: " Eur ", want: Money{1099, "eur"}},
		{name: "gbp lower minimum", amount: "0.30", currency: "gbp", want: Money{30, "gbp"}},
		{name: "jpy", amount: "500", currency: "jpy", want: Money{500, "jpy"}},
		{name: "jpy minimum", amount: "50", currency: "jpy", want: Money{50, "jpy"}},
		{name: "largest jpy", amount: "99999999", currency: "jpy", want: Money{99999999, "jpy"}},
		{name: "kwd three decimals", amount: "1.230", currency: "kwd", want: Money{1230, "kwd"}},
		{name: "kwd two decimals", amount: "1.23", currency: "kwd", want: Money{1230, "kwd"}},
		{name: "kwd minimum", amount: "0.5", currency: "kwd", want: Money{500, "kwd"}},

		{name: "below minimum", amount: "0.49", currency: "usd", field: "amount", msg: "The minimum charge in USD is 0.50."},
		{name: "zero", amount: "0", currency: "usd", field: "amount", msg: "minimum"},
		{name: "huf below minimum", amount: "174.99", currency: "huf", field: "amount", msg: "The minimum charge in HUF is 175.00."},
		{name: "jpy below minimum", amount: "49", currency: "jpy", field: "amount", msg: "minimum"},
		{name: "kwd below minimum", amount: "0.490", currency: "kwd", field: "amount", msg: "minimum"},
		{name: "exponent", amount: "1e3", currency: "usd", field: "amount"},
		{name: "negative", amount: "-5", currency: "usd", field: "amount"},
		{name: "plus sign", amount: "+5", currency: "usd", field: "amount"},
		{name: "three decimals", amount: "10.999", currency: "usd", field: "amount", msg: "USD amounts have at most 2 decimal places."},
		{name: "trailing zero decimal", amount: "10.990", currency: "usd", field: "amount", msg: "at most 2 decimal places"},
		{name: "thousands separator", amount: "1,000", currency: "usd", field: "amount"},
		{name: "leading dot", amount: ".5", currency: "usd", field: "amount"},
		{name: "trailing dot", amount: "5.", currency: "usd", field: "amount"},
		{name: "two dots", amount: "1.2.3", currency: "usd", field: "amount"},
		{name: "inner space", amount: "10 .99", currency: "usd", field: "amount"},
		{name: "empty", amount: "", currency: "usd", field: "amount", msg: "Enter an amount."},
		{name: "spaces only", amount: "   ", currency: "usd", field: "amount", msg: "Enter an amount."},
		{name: "letters", amount: "abc", currency: "usd", field: "amount"},
		{name: "fullwidth digits", amount: "１０", currency: "usd", field: "amount"},
		{name: "forty digits", amount: strings.Repeat("9", 40), currency: "usd", field: "amount", msg: "The maximum charge in USD is 999,999.99."},
		{name: "forty digits jpy", amount: "1" + strings.Repeat("0", 39), currency: "jpy", field: "amount", msg: "The maximum charge in JPY is 99,999,999."},
		{name: "too large", amount: "99999999.99", currency: "usd", field: "amount", msg: "maximum"},
		{name: "just over max", amount: "1000000.00", currency: "usd", field: "amount", msg: "maximum"},
		{name: "jpy decimals", amount: "500.5", currency: "jpy", field: "amount", msg: "JPY amounts have no decimal places."},
		{name: "jpy zero decimals", amount: "500.0", currency: "jpy", field: "amount", msg: "no decimal places"},
		{name: "kwd last digit", amount: "1.234", currency: "kwd", field: "amount", msg: "last one must be 0"},
		{name: "kwd four decimals", amount: "1.2300", currency: "kwd", field: "amount", msg: "at most 3 decimal places"},
		{name: "unknown currency", amount: "10", currency: "xyz", field: "currency"},
		{name: "empty currency", amount: "10", currency: "", field: "currency", msg: "Choose a currency."},
		{name: "long currency", amount: "10", currency: "usdx", field: "currency"},
		{name: "kelvin sign currency", amount: "10", currency: "\u212awd", field: "currency"},
		{name: "bad currency wins", amount: "", currency: "xyz", field: "currency"},
	}
}

func TestParseMoney(t *testing.T) {
	for _, tc := range parseMoneyCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMoney(tc.amount, tc.currency)
			if tc.field == "" {
				if err != nil || got != tc.want {
					t.Errorf("ParseMoney(%q, %q) = %+v, %v; want %+v", tc.amount, tc.currency, got, err, tc.want)
				}
				return
			}
			var invalid *InvalidError
			if !errors.As(err, &invalid) || invalid.Field != tc.field || invalid.Message == "" {
				t.Fatalf("ParseMoney(%q, %q) = %+v, %v; want an InvalidError for %s", tc.amount, tc.currency, got, err, tc.field)
			}
			if !strings.Contains(invalid.Message, tc.msg) {
				t.Errorf("ParseMoney(%q, %q) message = %q; want it to contain %q", tc.amount, tc.currency, invalid.Message, tc.msg)
			}
			if got != (Money{}) {
				t.Errorf("ParseMoney(%q, %q) = %+v with an error; want the zero Money", tc.amount, tc.currency, got)
			}
		})
	}
}

func TestParseMoneyRoundTrip(t *testing.T) {
	for _, tc := range parseMoneyCases() {
		if tc.field != "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			back, err := ParseMoney(tc.want.Decimal(), tc.want.Currency)
			if err != nil || back != tc.want {
				t.Errorf("ParseMoney(%q, %q) = %+v, %v; want %+v", tc.want.Decimal(), tc.want.Currency, back, err, tc.want)
			}
		})
	}
}

func TestMoneyFormat(t *testing.T) {
	cases := map[string]struct {
		m            Money
		decimal, str string
	}{
		"usd":           {Money{1099, "usd"}, "10.99", "$10.99"},
		"usd whole":     {Money{1000, "usd"}, "10.00", "$10.00"},
		"usd cents":     {Money{5, "usd"}, "0.05", "$0.05"},
		"usd zero":      {Money{0, "usd"}, "0.00", "$0.00"},
		"usd grouped":   {Money{123456789, "usd"}, "1234567.89", "$1,234,567.89"},
		"jpy":           {Money{500, "jpy"}, "500", "¥500"},
		"jpy grouped":   {Money{1099, "jpy"}, "1099", "¥1,099"},
		"eur":           {Money{1099, "eur"}, "10.99", "€10.99"},
		"cad":           {Money{125000, "cad"}, "1250.00", "$1,250.00 CAD"},
		"chf":           {Money{1200, "chf"}, "12.00", "CHF 12.00"},
		"kwd":           {Money{1230, "kwd"}, "1.230", "KWD 1.230"},
		"kwd small":     {Money{10, "kwd"}, "0.010", "KWD 0.010"},
		"negative":      {Money{-1099, "usd"}, "-10.99", "-$10.99"},
		"negative code": {Money{-123456, "sek"}, "-1234.56", "-SEK 1,234.56"},
		"most negative": {Money{math.MinInt64, "usd"}, "-92233720368547758.08", "-$92,233,720,368,547,758.08"},
		"unknown":       {Money{1234, "xyz"}, "1234", "XYZ 1,234"},
		"zero value":    {Money{}, "0", "0"},
		"no currency":   {Money{Amount: 123456}, "123456", "123,456"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.m.Decimal(); got != tc.decimal {
				t.Errorf("%#v.Decimal() = %q; want %q", tc.m, got, tc.decimal)
			}
			if got := tc.m.Display(); got != tc.str {
				t.Errorf("%#v.Display() = %q; want %q", tc.m, got, tc.str)
			}
			if got := tc.m.String(); got != tc.str {
				t.Errorf("%#v.String() = %q; want Display's %q", tc.m, got, tc.str)
			}
		})
	}
}

func TestCurrencyExponent(t *testing.T) {
	cases := map[string]struct {
		currency string
		exp      int
		ok       bool
	}{
		"usd":        {"usd", 2, true},
		"huf":        {"huf", 2, true},
		"jpy":        {"jpy", 0, true},
		"ugx":        {"ugx", 0, true},
		"kwd":        {"kwd", 3, true},
		"tnd":        {"tnd", 3, true},
		"unknown":    {"xyz", 0, false},
		"upper case": {"USD", 0, false}, // callers pass the normalized code
		"empty":      {"", 0, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			exp, ok := CurrencyExponent(tc.currency)
			if exp != tc.exp || ok != tc.ok {
				t.Errorf("CurrencyExponent(%q) = %d, %v; want %d, %v", tc.currency, exp, ok, tc.exp, tc.ok)
			}
		})
	}
}

func FuzzParseMoney(f *testing.F) {
	for _, tc := range parseMoneyCases() {
		for _, cur := range []string{tc.currency, "usd", "jpy", "kwd"} {
			f.Add(tc.amount, cur)
		}
	}
	f.Fuzz(func(t *testing.T, amount, currency string) {
		m, err := ParseMoney(amount, currency)
		if err != nil {
			var invalid *InvalidError
			if !errors.As(err, &invalid) || (invalid.Field != "amount" && invalid.Field != "currency") || invalid.Message == "" {
				t.Fatalf("ParseMoney(%q, %q) error %v; want an InvalidError for amount or currency", amount, currency, err)
			}
			return
		}
		if _, ok := CurrencyExponent(m.Currency); !ok {
			t.Fatalf("ParseMoney(%q, %q) = %+v; currency not supported", amount, currency, m)
		}
		if m.Amount < minimumCharge(m.Currency) || m.Amount > maxAmount {
			t.Fatalf("ParseMoney(%q, %q) = %+v; amount outside [%d, %d]", amount, currency, m, minimumCharge(m.Currency), maxAmount)
		}
		back, err := ParseMoney(m.Decimal(), m.Currency)
		if err != nil || back != m {
			t.Fatalf("ParseMoney(%q, %q) = %+v, but its Decimal %q parses to %+v, %v", amount, currency, m, m.Decimal(), back, err)
		}
	})
}

func TestParseAmountHasNoMinimumButRefusesZero(t *testing.T) {
	if m, err := ParseAmount("0.10", "usd"); err != nil || m != (Money{10, "usd"}) {
		t.Errorf("ParseAmount(0.10) = %v, %v", m, err)
	}
	if _, err := ParseAmount("0.00", "usd"); err == nil || !strings.Contains(err.Error(), "greater than zero") {
		t.Errorf("ParseAmount(0.00) = %v", err)
	}
	if _, err := ParseMoney("0.10", "usd"); err == nil || !strings.Contains(err.Error(), "minimum") {
		t.Errorf("ParseMoney(0.10) = %v, want the minimum charge", err)
	}
}

func TestCurrencies(t *testing.T) {
	list := Currencies()
	if len(list) != len(currencyExponents) || !slices.IsSorted(list) || list[0] != "aud" {
		t.Errorf("Currencies() = %v, want every supported code, sorted", list)
	}
	for _, c := range list {
		if _, err := ParseAmount("1", c); err != nil {
			t.Errorf("%s is listed but refused: %v", c, err)
		}
	}
}

func TestCheckItems(t *testing.T) {
	total := Money{2548, "usd"}
	good := []LineItem{{"T-shirt", 1099, 2}, {"Mug", 350, 1}}
	if err := checkItems(good, total); err != nil {
		t.Errorf("lines that add up: %v", err)
	}
	for name, items := range map[string][]LineItem{
		"short":     {{"T-shirt", 1099, 2}},
		"no name":   {{" ", 2548, 1}},
		"zero":      {{"T-shirt", 0, 1}, {"Mug", 2548, 1}},
		"overflows": {{"T-shirt", maxAmount, maxAmount}},
	} {
		if err := checkItems(items, total); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
