package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/storefront/storefront/internal/billing"
)

// statusWords are the status words people read where the contract's word
// is not plain English; the contract's word stays in data-status.
var statusWords = map[string]string{
	billing.ChargeAuthenticationRequired:    "needs authentication",
	string(billing.NotificationNoRecipient): "no email address",
}

// label is a status word as people read it: "needs authentication",
// "payment failed", "partially refunded".
func label(status any) string {
	word := fmt.Sprint(status)
	if l, ok := statusWords[word]; ok {
		return l
	}
	return strings.ReplaceAll(word, "_", " ")
}

// at shows a time as people say it ("3 minutes ago", "in 2 hours"), with
// the exact time in its tooltip and machine-readable datetime; the page's
// script turns the tooltip into the reader's own time zone.
func at(t time.Time) template.HTML {
	if t.IsZero() {
		return "-"
	}
	return template.HTML(fmt.Sprintf(`<time datetime="%s" title="%s">%s</time>`,
		t.UTC().Format(time.RFC3339), when(t), relative(t, time.Now())))
}

// relative says how far t is from now, roughly, as people say it; past a
// month it is the date.
func relative(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var span string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		span = plural(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		span = plural(int(d/time.Hour), "hour")
	case d < 30*24*time.Hour:
		span = plural(int(d/(24*time.Hour)), "day")
	default:
		return t.UTC().Format("2 Jan 2006")
	}
	if future {
		return "in " + span
	}
	return span + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// attemptCard names the card a charge was made to: "Visa ···· 4242".
func attemptCard(a billing.ChargeAttempt) string {
	if a.CardLast4 == "" {
		return "a card no longer on file"
	}
	return brandName(a.CardBrand, a.CardType) + " ···· " + a.CardLast4
}

// expiry is a card's expiry as printed on it: "08/2030"; "" when unknown.
func expiry(pm billing.PaymentMethod) string {
	if pm.ExpMonth == 0 {
		return ""
	}
	return fmt.Sprintf("%02d/%d", pm.ExpMonth, pm.ExpYear)
}

// currencyOption is one entry of a currency menu.
type currencyOption struct {
	Code, Label string
	Selected    bool
}

// currencyMenu lists the supported currencies, selected naming the chosen one.
func currencyMenu(selected string) []currencyOption {
	selected = strings.ToLower(strings.TrimSpace(selected))
	list := billing.Currencies()
	menu := make([]currencyOption, len(list))
	for i, c := range list {
		menu[i] = currencyOption{Code: c, Label: strings.ToUpper(c), Selected: c == selected}
	}
	return menu
}

// currencyInput is a currency menu on a form: its id, its accessible name
// when no <label> names it, the chosen currency, and the error it shows.
type currencyInput struct {
	ID, Label, Selected string
	Invalid             bool
	Describedby         string
}

func currencyField(id, label, selected string, invalid bool, describedby string) currencyInput {
	return currencyInput{ID: id, Label: label, Selected: selected, Invalid: invalid, Describedby: describedby}
}
