package stripeemu

import (
	_ "embed"
	"html/template"
)

// pageTemplates are the hosted pages: Checkout's form, its 3-D Secure
// step, and the messages for a session that cannot be paid.
//
//go:embed pages.html
var pageTemplates string

// parsePages parses the hosted page templates. They are embedded in this
// package, so a parse error is a bug caught by any test; Must is fine here.
func parsePages() *template.Template {
	return template.Must(template.New("pages").Parse(pageTemplates))
}
