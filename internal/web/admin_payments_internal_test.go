package web

import "testing"

// TestInertCell: a cell a spreadsheet would read as a formula gets a
// leading apostrophe; anything else is left as it is.
func TestInertCell(t *testing.T) {
	for in, want := range map[string]string{
		"=1+2@example.com":                "'=1+2@example.com",
		"+33 1 23":                        "'+33 1 23",
		"-2+3":                            "'-2+3",
		"@SUM(A1)":                        "'@SUM(A1)",
		"\t=cmd":                          "'\t=cmd",
		"\r=cmd":                          "'\r=cmd",
		`=HYPERLINK("http://x.test", "")`: `'=HYPERLINK("http://x.test", "")`,
		"ann@example.com":                 "ann@example.com",
		"Order #1042":                     "Order #1042",
		"10.99":                           "10.99",
		"pi_123":                          "pi_123",
		"":                                "",
	} {
		if got := inertCell(in); got != want {
			t.Errorf("inertCell(%q) = %q, want %q", in, got, want)
		}
	}
}
