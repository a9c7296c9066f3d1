package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestResetLocal(t *testing.T) {
	db, dbURL := pg.NewDBWithURL(t)
	ctx := context.Background()
	if _, err := db.Secret(ctx, localAdminPasswordSecret); err != nil {
		t.Fatal(err)
	}
	db.Close() // a connected server makes the drop fail, as it should
	exists := func() bool {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return false
		}
		conn.Close(ctx)
		return true
	}
	reset := func(env map[string]string, answer string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, []string{"reset-local"}, func(k string) string { return env[k] }, strings.NewReader(answer), &out, &out)
		return out.String(), err
	}
	local := map[string]string{"DATABASE_URL": dbURL}

	for name, answer := range map[string]string{"no": "no\n", "nothing": "", "Yes with words": "yes please\n"} {
		if _, err := reset(local, answer); err == nil || !strings.Contains(err.Error(), "nothing was deleted") {
			t.Errorf("%s: err = %v, want not confirmed", name, err)
		}
	}
	if !exists() {
		t.Fatal("an unconfirmed reset dropped the database")
	}
	withKey := map[string]string{"DATABASE_URL": dbURL, "STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x", "ADMIN_PASSWORD": "a long password here"}
	if _, err := reset(withKey, "yes\n"); err == nil || !strings.Contains(err.Error(), "only in local mode") {
		t.Errorf("with a Stripe key: err = %v, want refused", err)
	}
	if !exists() {
		t.Fatal("a reset with a Stripe key dropped the database")
	}

	out, err := reset(local, "yes\n")
	if err != nil {
		t.Fatalf("confirmed reset: %v\n%s", err, out)
	}
	if exists() {
		t.Error("the database is still there after a confirmed reset")
	}
}
