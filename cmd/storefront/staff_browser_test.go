package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserSignInOnAPhone signs in through the login form in a real
// browser 390 pixels wide (a phone), sees who is signed in, reads the audit
// log without sideways scrolling, and signs out.
func TestBrowserSignInOnAPhone(t *testing.T) {
	ctx := newBrowser(t)
	s := startLocalStore(t)
	fits := func(page string) {
		t.Helper()
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil || width > 390 {
			t.Errorf("%s is %d pixels wide at 390 (%v)", page, width, err)
		}
	}
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(s.baseURL+"/admin/audit"),
		chromedp.WaitVisible(`#password`),
	)
	if err != nil {
		t.Fatalf("the admin area sends a browser to sign in: %v", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/admin/login?next=%2Fadmin%2Faudit") {
		t.Errorf("sign-in page at %s", loc)
	}
	fits("the login page")
	if err := chromedp.Do(ctx, signInOnThePage("admin", s.password)); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/admin/audit") {
		t.Errorf("after signing in: %s, want the audit log it asked for", loc)
	}
	if who := mustText(t, ctx, `.whoami`); !strings.Contains(who, "Signed in as admin") {
		t.Errorf("header says %q", who)
	}
	fits("the audit log")
	err = chromedp.Do(ctx,
		chromedp.Click(`.whoami button[type=submit]`),
		chromedp.WaitVisible(`#password`),
		chromedp.Navigate(s.baseURL+"/admin"),
		chromedp.WaitVisible(`#password`),
	)
	if err != nil {
		t.Errorf("sign out, then the admin asks to sign in again: %v", err)
	}
}

// signInOnThePage fills the login page the browser shows and waits for the
// admin page it leads to.
func signInOnThePage(user, password string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SetValue(`#user`, user),
		chromedp.SetValue(`#password`, password),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`.whoami`),
	)
}
