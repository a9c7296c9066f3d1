package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/postgres"
	"github.com/storefront/storefront/internal/postgres/postgrestest"
	"github.com/storefront/storefront/internal/testkit"
)

var pg *postgrestest.Template

func TestMain(m *testing.M) { os.Exit(postgrestest.Run(m, &pg)) }

// localStore is the program as `make run` starts it with an empty
// environment: local mode, on a database of its own.
type localStore struct {
	baseURL  string
	password string
	stdout   *testkit.SyncBuffer
	logs     *testkit.SyncBuffer
	db       *postgres.DB
}

func startLocalStore(t *testing.T) localStore {
	t.Helper()
	return startLocalStoreWith(t, nil)
}

// startLocalStoreWith is startLocalStore with more environment variables.
func startLocalStoreWith(t *testing.T, extra map[string]string) localStore {
	t.Helper()
	db, dbURL := pg.NewDBWithURL(t)
	port := testkit.FreePort(t)
	env := map[string]string{"DATABASE_URL": dbURL, "PORT": fmt.Sprint(port)}
	maps.Copy(env, extra)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, logs := &testkit.SyncBuffer{}, &testkit.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, nil, stdout, logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve did not shut down cleanly: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not shut down within 30s")
		}
	})
	s := localStore{baseURL: "http://localhost:" + env["PORT"], stdout: stdout, logs: logs, db: db}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res, err := http.Get(s.baseURL + "/healthz"); err == nil {
			res.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not start:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := regexp.MustCompile(`user admin, password (\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no admin password printed:\n%s", stdout)
	}
	s.password = m[1]
	return s
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func mustDo(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func postForm(t testing.TB, target string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return mustDo(t, req)
}

func get(t testing.TB, target string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	return mustDo(t, req)
}

// TestLocalModeClickThrough is `make run` with an empty environment, clicked
// through over HTTP: store, emulator page, success page, admin list, webhooks.
func TestLocalModeClickThrough(t *testing.T) {
	s := startLocalStore(t)
	for _, want := range []string{"local mode", "test card:  4242 4242 4242 4242"} {
		if !strings.Contains(s.stdout.String(), want) {
			t.Errorf("start-up output lacks %q:\n%s", want, s.stdout)
		}
	}
	_, home := get(t, s.baseURL+"/")
	if !strings.Contains(home, "Test mode, local emulator") {
		t.Error("the store page shows no local-mode banner")
	}

	res, _ := postForm(t, s.baseURL+"/create-checkout-session", url.Values{"email": {"kim@example.com"}})
	checkoutURL := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(checkoutURL, s.baseURL+emulatorPrefix+"/") {
		t.Fatalf("Save card: %d to %q, want 303 to the emulator's page", res.StatusCode, checkoutURL)
	}
	_, page := get(t, checkoutURL)
	if !strings.Contains(page, `id="cardNumber"`) {
		t.Fatal("the emulator's page has no card field")
	}
	res, _ = postForm(t, checkoutURL, url.Values{
		"email": {"kim@example.com"}, "cardNumber": {"4242 4242 4242 4242"}, "cardExpiry": {"12 / 34"},
		"cardCvc": {"123"}, "billingName": {"Kim Example"},
	})
	successURL := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(successURL, s.baseURL+"/success?session_id=cs_test_") {
		t.Fatalf("card page: %d to %q, want 303 to the success page", res.StatusCode, successURL)
	}
	_, success := get(t, successURL)
	if !strings.Contains(success, "Card saved") || !strings.Contains(success, "4242") {
		t.Errorf("success page: %s", success)
	}

	req, _ := http.NewRequest(http.MethodGet, s.baseURL+"/admin", nil)
	req.SetBasicAuth("admin", s.password)
	res, admin := mustDo(t, req)
	if res.StatusCode != http.StatusOK || !strings.Contains(admin, "kim@example.com") || !strings.Contains(admin, "4242") {
		t.Errorf("admin: %d, want the saved card listed", res.StatusCode)
	}

	// The emulator delivers its events, signed, to the store's own /webhook.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.logs.String(), "type=checkout.session.completed") {
		if time.Now().After(deadline) {
			t.Fatalf("no checkout.session.completed delivered to /webhook:\n%s", s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(s.logs.String(), "webhook refused") {
		t.Errorf("a delivery failed verification:\n%s", s.logs)
	}
}

func TestMigrateCommand(t *testing.T) {
	_, dbURL := pg.NewDBWithURL(t)
	var out bytes.Buffer
	err := run(context.Background(), []string{"migrate"}, func(k string) string {
		return map[string]string{"DATABASE_URL": dbURL}[k]
	}, nil, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "up to date") {
		t.Errorf("migrate on a migrated database printed %q", out.String())
	}
}

func TestRunRejectsBadConfigurationAndCommands(t *testing.T) {
	err := run(context.Background(), []string{"serve"}, func(k string) string {
		return map[string]string{"PORT": "nope", "STRIPE_SECRET_KEY": "sk_live_x"}[k]
	}, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "PORT:") || !strings.Contains(err.Error(), "ADMIN_PASSWORD:") {
		t.Errorf("err = %v, want one line per problem", err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, os.Getenv, nil, io.Discard, io.Discard); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("unknown command: err = %v", err)
	}
}

func nowMinusHour() time.Time { return time.Now().Add(-time.Hour) }

// Local mode used to listen on every interface, and its emulator's API took
// any sk_test_ key: customers, cards and recovery tokens were one curl away.
func TestLocalModeIsLoopbackOnlyAndKeyed(t *testing.T) {
	s := startLocalStore(t)
	req, _ := http.NewRequest(http.MethodGet, s.baseURL+emulatorPrefix+"/v1/customers", nil)
	req.Header.Set("Authorization", "Bearer sk_test_anything")
	if res, body := mustDo(t, req); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("emulator API with a guessed key: %d %s, want 401", res.StatusCode, body)
	}
	// The hosted card page stays public: customers reach it from Save card.
	res, _ := postForm(t, s.baseURL+"/create-checkout-session", url.Values{"email": {"lee@example.com"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("Save card: %d, want 303 (the store's own calls carry the generated key)", res.StatusCode)
	}

	port := strings.TrimPrefix(s.baseURL, "http://localhost:")
	for _, ip := range nonLoopbackIPs(t) {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), time.Second)
		if err == nil {
			conn.Close()
			t.Errorf("local mode answers on %s:%s, want loopback only", ip, port)
		}
	}
}

func nonLoopbackIPs(t *testing.T) []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			ips = append(ips, n.IP.String())
		}
	}
	if len(ips) == 0 {
		t.Log("no non-loopback IPv4 address on this machine: the listen check has nothing to try")
	}
	return ips
}

func TestServeRefusesLocalModeOnAPublicURL(t *testing.T) {
	err := run(context.Background(), []string{"serve"}, func(k string) string {
		return map[string]string{"BASE_URL": "https://shop.example.com"}[k]
	}, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "STRIPE_SECRET_KEY:") || !strings.Contains(err.Error(), "LOCAL_MODE") {
		t.Errorf("err = %v, want local mode refused on a public BASE_URL", err)
	}
}
