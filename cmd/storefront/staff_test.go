package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/user"
	"regexp"
	"strings"
	"testing"

	"github.com/storefront/storefront/internal/staff"
)

func TestStaffCommands(t *testing.T) {
	db, dbURL := pg.NewDBWithURL(t)
	env := func(k string) string { return map[string]string{"DATABASE_URL": dbURL}[k] }
	ctx := context.Background()
	staffRun := func(in string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"staff"}, args...), env, strings.NewReader(in), &out, io.Discard)
		return out.String(), err
	}
	svc := staff.NewService(db, staff.Options{})

	if out, err := staffRun("a piped password\n", "add", "Ann@Example.com"); err != nil || !strings.Contains(out, "added staff user ann@example.com") || strings.Contains(out, "password:") {
		t.Fatalf("add with a piped password: %q, %v", out, err)
	}
	if _, err := svc.Authenticate(ctx, "ann@example.com", "a piped password", "192.0.2.1"); err != nil {
		t.Errorf("piped password does not sign in: %v", err)
	}

	out, err := staffRun("", "add", "bob@example.com")
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	if err != nil || m == nil || len(m[1]) < staff.MinPasswordLength {
		t.Fatalf("add with nothing piped: %q, %v; want a generated password", out, err)
	}
	if _, err := svc.Authenticate(ctx, "bob@example.com", m[1], "192.0.2.1"); err != nil {
		t.Errorf("generated password does not sign in: %v", err)
	}

	refused := map[string][]string{
		"short password": {"eleven char\n", "add", "carol@example.com"},
		"not an email":   {"a long enough password\n", "add", "carol"},
		"taken":          {"a long enough password\n", "add", "ANN@example.com"},
		"no email":       {"", "add"},
		"unknown verb":   {"", "remove", "ann@example.com"},
		"disable nobody": {"", "disable", "nobody@example.com"},
	}
	for name, tc := range refused {
		if out, err := staffRun(tc[0], tc[1:]...); err == nil {
			t.Errorf("%s: accepted: %q", name, out)
		}
	}
	if _, err := svc.Authenticate(ctx, "carol@example.com", "eleven char", "192.0.2.2"); !errors.Is(err, staff.ErrBadCredentials) {
		t.Errorf("refused user exists: %v", err)
	}

	if out, err := staffRun("", "disable", "BOB@example.com"); err != nil || !strings.Contains(out, "disabled bob@example.com") {
		t.Errorf("disable: %q, %v", out, err)
	}
	if _, err := svc.Authenticate(ctx, "bob@example.com", m[1], "192.0.2.3"); !errors.Is(err, staff.ErrBadCredentials) {
		t.Errorf("disabled user signs in: %v", err)
	}
	out, err = staffRun("", "list")
	if err != nil || !regexp.MustCompile(`ann@example.com\tactive`).MatchString(out) || !regexp.MustCompile(`bob@example.com\tdisabled`).MatchString(out) {
		t.Errorf("list: %q, %v", out, err)
	}
}

func TestOperatorCommandsAreAudited(t *testing.T) {
	apiBase := emulatorWithSavedCard(t)
	db, dbURL := pg.NewDBWithURL(t)
	env := func(k string) string {
		return map[string]string{"DATABASE_URL": dbURL, "STRIPE_API_BASE": apiBase}[k]
	}
	ctx := context.Background()
	if err := run(ctx, []string{"sync", "--since", "1h"}, env, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"charge", "--customer", "ops@example.com", "--amount", "10.99"}, env, nil, &out, io.Discard); err != nil {
		t.Fatalf("charge: %v\n%s", err, out.String())
	}
	var eventID string
	if err := db.Pool().QueryRow(ctx, `SELECT id FROM stripe_events ORDER BY created_at DESC LIMIT 1`).Scan(&eventID); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"events", "replay", eventID}, env, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	entries, err := staff.NewService(db, staff.Options{}).Audit(ctx, 0)
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit rows %+v, %v; want the charge and the replay", entries, err)
	}
	want := "cli"
	if u, err := user.Current(); err == nil {
		want = "cli:" + u.Username
	}
	replay, charge := entries[0], entries[1]
	if charge.Action != "charge" || charge.Actor != want || charge.Amount != 1099 || charge.Currency != "usd" ||
		!strings.HasPrefix(charge.Target, "pm_") || !strings.Contains(out.String(), "attempt ") ||
		!strings.Contains(charge.Detail, "attempt ") {
		t.Errorf("charge row %+v (output %q)", charge, out.String())
	}
	if replay.Action != "event.replay" || replay.Actor != want || replay.Target != eventID {
		t.Errorf("replay row %+v", replay)
	}
}
