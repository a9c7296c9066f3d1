package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/testkit"
)

// process is the built binary serving local mode as a real process.
type process struct {
	cmd      *exec.Cmd
	baseURL  string
	password string
	stdout   *testkit.SyncBuffer
	logs     *testkit.SyncBuffer
}

// startProcess runs bin serve with only env (no .env: it runs in an empty
// directory) and waits until it answers.
func startProcess(t testing.TB, bin string, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Dir = t.TempDir()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, baseURL: "http://localhost:" + env["PORT"], stdout: &testkit.SyncBuffer{}, logs: &testkit.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.stdout, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { p.kill(); <-exited })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res, err := http.Get(p.baseURL + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("serve exited:\n%s", p.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not start:\n%s", p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := regexp.MustCompile(`user admin, password (\S+)`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("no admin password printed:\n%s", p.stdout)
	}
	p.password = m[1]
	return p
}

// kill is kill -9: no shutdown, no drain, nothing flushed.
func (p *process) kill() { _ = p.cmd.Process.Kill() }

// submitCard presses Save card for email and pays on the emulator's page; it
// returns the success URL the page redirects to, not yet visited.
func submitCard(t *testing.T, baseURL, email, number string) string {
	t.Helper()
	res, body := postForm(t, baseURL+"/create-checkout-session", url.Values{"email": {email}})
	checkoutURL := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(checkoutURL, baseURL+emulatorPrefix+"/") {
		t.Fatalf("Save card for %s: %d to %q, want 303 to the emulator's page\n%s", email, res.StatusCode, checkoutURL, body)
	}
	cvc := "123"
	if strings.HasPrefix(number, "3") {
		cvc = "1234" // Amex
	}
	res, body = postForm(t, checkoutURL, url.Values{
		"email": {email}, "cardNumber": {number}, "cardExpiry": {"12 / 34"}, "cardCvc": {cvc}, "billingName": {"Pat Example"},
	})
	successURL := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(successURL, baseURL+"/success?session_id=cs_test_") {
		t.Fatalf("card page for %s: %d to %q, want 303 to the success page\n%s", email, res.StatusCode, successURL, body)
	}
	return successURL
}

func saveCard(t *testing.T, baseURL, email, number string) {
	t.Helper()
	_, page := get(t, submitCard(t, baseURL, email, number))
	if !strings.Contains(page, "Card saved") || !strings.Contains(page, number[len(number)-4:]) {
		t.Fatalf("success page for %s: %s", email, page)
	}
}

// TestLocalModeSurvivesRestart restarts the real server process on the same
// database, once with kill -9 between the hosted page's submit and the
// webhook's delivery.
func TestLocalModeSurvivesRestart(t *testing.T) {
	db, dbURL := pg.NewDBWithURL(t)
	bin := filepath.Join(t.TempDir(), "storefront")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port := fmt.Sprint(testkit.FreePort(t))
	env := map[string]string{"DATABASE_URL": dbURL, "PORT": port}

	// First run: webhooks held back an hour, so the only way the store
	// hears of Cid's card is the delivery the next run owes it.
	first := startProcess(t, bin, map[string]string{"DATABASE_URL": dbURL, "PORT": port, emulatorDeliveryDelayVar: "1h"})
	saveCard(t, first.baseURL, "ann@example.com", "4242 4242 4242 4242")
	cidSuccess := submitCard(t, first.baseURL, "cid@example.com", "3782 822463 10005")
	first.kill()

	second := startProcess(t, bin, env)
	if second.password != first.password {
		t.Errorf("admin password changed across the restart: %q then %q", first.password, second.password)
	}
	// The returning customer saves a second card.
	saveCard(t, second.baseURL, "ann@example.com", "5555 5555 5555 4444")

	// The card saved before the restart is charged.
	ctx := context.Background()
	var firstCard string
	if err := db.Pool().QueryRow(ctx, `SELECT pm.id FROM payment_methods pm JOIN customers c ON c.id = pm.customer_id
		WHERE c.email = 'ann@example.com' AND pm.last4 = '4242'`).Scan(&firstCard); err != nil {
		t.Fatalf("ann's first card: %v", err)
	}
	req, _ := http.NewRequest(http.MethodPost, second.baseURL+"/admin/charges", strings.NewReader(url.Values{
		"confirm": {"yes"}, "payment_method": {firstCard}, "amount": {"10.99"}, "currency": {"usd"}, "key": {billing.NewIdempotencyKey()},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("admin", second.password)
	res, body := mustDo(t, req)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("charge: %d %s", res.StatusCode, body)
	}
	req, _ = http.NewRequest(http.MethodGet, second.baseURL+res.Header.Get("Location"), nil)
	req.SetBasicAuth("admin", second.password)
	if _, page := mustDo(t, req); !strings.Contains(page, `id="charge-status" data-status="succeeded"`) {
		t.Errorf("charge of the card saved before the restart did not succeed:\n%s", page)
	}

	// A new customer saves a card.
	saveCard(t, second.baseURL, "bea@example.com", "4242 4242 4242 4242")

	// Cid's card reaches the store by the delivery owed since the kill, once.
	sessionID := strings.TrimPrefix(cidSuccess, first.baseURL+"/success?session_id=")
	deadline := time.Now().Add(30 * time.Second)
	for {
		var applied int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM stripe_events
			WHERE type = 'checkout.session.completed' AND object_id = $1 AND applied_at IS NOT NULL`, sessionID).Scan(&applied); err != nil {
			t.Fatal(err)
		}
		if applied > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkout.session.completed for %s never applied after the restart:\n%s", sessionID, second.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cidCards := func() int {
		var n int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM payment_methods pm JOIN customers c ON c.id = pm.customer_id
			WHERE c.email = 'cid@example.com'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := cidCards(); n != 1 {
		t.Errorf("cid has %d cards recorded, want 1", n)
	}
	// The success page, visited late, shows the card and records nothing more.
	if _, page := get(t, second.baseURL+"/success?session_id="+sessionID); !strings.Contains(page, "Card saved") || !strings.Contains(page, "0005") {
		t.Errorf("cid's success page after the restart: %s", page)
	}
	if n := cidCards(); n != 1 {
		t.Errorf("after the success page cid has %d cards recorded, want 1", n)
	}
}
