package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/shop"
	"github.com/storefront/storefront/internal/stripeemu"
)

// replicas are n stores on one database, as behind a load balancer.
func replicas(t *testing.T, n int, opts storeOptions) []*harness {
	t.Helper()
	stripe := newStripe(t, stripeemu.Options{})
	opts.db = pg.NewDB(t)
	var out []*harness
	for range n {
		out = append(out, newStoreWith(t, stripe, opts))
	}
	return out
}

// editProduct changes a product through the admin's form.
func (h *harness) editProduct(p shop.Product, name, price string) {
	h.t.Helper()
	res := h.adminPost("/admin/products/"+strconv.FormatInt(p.ID, 10), url.Values{
		"name": {name}, "description": {p.Description}, "price": {price}, "currency": {p.Price.Currency}})
	if res.status != http.StatusSeeOther {
		h.t.Fatalf("edit product %d: %d %s", p.ID, res.status, res.body)
	}
}

func (h *harness) archiveProduct(p shop.Product) {
	h.t.Helper()
	if res := h.adminPost("/admin/products/"+strconv.FormatInt(p.ID, 10)+"/archive", nil); res.status != http.StatusSeeOther {
		h.t.Fatalf("archive product %d: %d %s", p.ID, res.status, res.body)
	}
}

// catalogPage is GET / for a visitor with these cookies (none: no cart).
func (h *harness) catalogPage(cookies ...*http.Cookie) string {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.store.URL+"/", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	res := h.do(req)
	if res.status != http.StatusOK {
		h.t.Fatalf("GET /: %d %s", res.status, res.body)
	}
	return res.body
}

// waitForPage polls GET / until ok holds of it, for at most limit, and
// returns how long that took.
func (h *harness) waitForPage(limit time.Duration, ok func(page string) bool) time.Duration {
	h.t.Helper()
	start := time.Now()
	for !ok(h.catalogPage()) {
		if time.Since(start) > limit {
			h.t.Fatalf("after %s the catalog page is still:\n%s", limit, h.catalogPage())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// A change made through one replica reaches the others as it commits, by
// the database's notification: their copies are kept for an hour here, so
// only the notification can bring it. The replica that made it shows it at once.
func TestCatalogChangesReachEveryReplica(t *testing.T) {
	rs := replicas(t, 2, storeOptions{catalogMaxAge: time.Hour})
	a, b := rs[0], rs[1]
	products := a.catalog()
	tshirt, mug := products["T-shirt"], products["Mug"]
	if page := b.catalogPage(); !strings.Contains(page, ">T-shirt<") || !strings.Contains(page, "$10.99") {
		t.Fatalf("before the edit, replica b shows:\n%s", page)
	}

	a.editProduct(tshirt, "Heavy T-shirt", "12.50")
	if page := a.catalogPage(); !strings.Contains(page, ">Heavy T-shirt<") || !strings.Contains(page, "$12.50") {
		t.Errorf("the replica that made the edit does not show it at once:\n%s", page)
	}
	took := b.waitForPage(10*time.Second, func(page string) bool {
		return strings.Contains(page, ">Heavy T-shirt<") && strings.Contains(page, "$12.50") && !strings.Contains(page, "$10.99")
	})
	t.Logf("the edit reached replica b in %s", took)

	a.archiveProduct(mug)
	if strings.Contains(a.catalogPage(), ">Mug<") {
		t.Error("the replica that archived the mug still sells it")
	}
	b.waitForPage(10*time.Second, func(page string) bool { return !strings.Contains(page, ">Mug<") })
}

// Without the notification (the listener's connection down), a replica's
// copy is checked against the catalog's version once it is CatalogMaxAge
// old: a change shows there at most that long after it commits.
func TestCatalogIsNeverStalerThanItsMaxAge(t *testing.T) {
	const maxAge = 2 * time.Second
	rs := replicas(t, 2, storeOptions{catalogMaxAge: maxAge, unfollowed: true})
	a, b := rs[0], rs[1]
	products := a.catalog()
	a.catalogPage() // both copies are read now
	b.catalogPage()

	a.editProduct(products["T-shirt"], "Heavy T-shirt", "12.50")
	a.archiveProduct(products["Mug"])
	if page := a.catalogPage(); !strings.Contains(page, ">Heavy T-shirt<") || strings.Contains(page, ">Mug<") {
		t.Errorf("the replica that made the changes does not show them at once:\n%s", page)
	}
	b.advance(maxAge)
	page := b.catalogPage()
	if !strings.Contains(page, ">Heavy T-shirt<") || !strings.Contains(page, "$12.50") || strings.Contains(page, ">Mug<") {
		t.Errorf("%s after the changes, replica b shows:\n%s", maxAge, page)
	}
}

// The page a replica serves from its copy is the page a replica that has
// just started renders, for every visitor; a cart's count is never kept,
// and shows a change at once on every replica.
func TestCatalogPageFromTheCopyIsThePageRendered(t *testing.T) {
	rs := replicas(t, 2, storeOptions{})
	a, b := rs[0], rs[1]
	products := a.catalog()
	s := a.newShopper()
	storeURL, _ := url.Parse(a.store.URL)
	same := func(step string, cookies []*http.Cookie, badge string) {
		t.Helper()
		warm := a.catalogPage(cookies...) // served from a's copy, rendered before
		fresh := newStoreWith(t, a.stripe, storeOptions{db: a.db, unfollowed: true})
		if cold := fresh.catalogPage(cookies...); cold != warm {
			t.Errorf("%s: the page from the copy differs from a fresh rendering:\n%s\n---\n%s", step, warm, cold)
		}
		if other := b.catalogPage(cookies...); other != warm {
			t.Errorf("%s: replica b serves another page:\n%s", step, other)
		}
		if got := strings.Contains(warm, `id="cart-count"`); got != (badge != "") || !strings.Contains(warm, badge) {
			t.Errorf("%s: the cart's count: want %q in\n%s", step, badge, warm)
		}
	}

	a.catalogPage()
	same("no cart", nil, "")
	same("a malformed cart cookie", []*http.Cookie{{Name: "storefront_cart", Value: "not-a-token"}}, "")
	s.add(products["T-shirt"], "2")
	cookies := s.client.Jar.Cookies(storeURL)
	a.catalogPage(cookies...)
	same("two T-shirts", cookies, `id="cart-count">2<`)
	s.add(products["Mug"], "1")
	same("and a mug", cookies, `id="cart-count">3<`)
	a.editProduct(products["Sticker pack"], "Sticker pack", "4.50")
	same("after an edit", cookies, `id="cart-count">3<`)
	a.archiveProduct(products["Mug"])
	same("after archiving a product in the cart", cookies, `id="cart-count">3<`)
}
