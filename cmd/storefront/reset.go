package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/config"
	"github.com/storefront/storefront/internal/postgres"
)

// runResetLocal starts local mode afresh: after a typed "yes" it drops the
// whole database, which holds both the store's tables and the emulator's
// schema, so nothing of the old run survives to disagree with the other
// half; the next start creates and migrates it again. It refuses outside
// local mode, where the customers and cards are real.
func runResetLocal(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if !cfg.LocalMode() {
		return errors.New("reset-local: only in local mode (no STRIPE_SECRET_KEY): it deletes every customer and card")
	}
	pgCfg, err := pgx.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("reset-local: DATABASE_URL: %w", err)
	}
	fmt.Fprintf(stdout, "This drops the database %q: every customer, card, charge, event, staff user and audit row,\n"+
		"the emulator's Stripe objects, and the generated admin password and webhook secret.\n"+
		"Stop the server first. ", pgCfg.Database)
	if !askYes(stdin, stdout, "Type yes to go on: ") {
		return errors.New("reset-local: not confirmed; nothing was deleted")
	}
	if err := postgres.DropDatabase(ctx, cfg.DatabaseURL); err != nil {
		return fmt.Errorf("reset-local: %w (is the server still running?)", err)
	}
	fmt.Fprintf(stdout, "\ndropped %q; the next start begins afresh\n", pgCfg.Database)
	return nil
}

// askYes asks on stdout for a typed yes on stdin; anything else, or no
// stdin, is a no.
func askYes(stdin io.Reader, stdout io.Writer, prompt string) bool {
	fmt.Fprint(stdout, prompt)
	answer := ""
	if stdin != nil {
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		answer = strings.TrimSpace(line)
	}
	if answer != "yes" {
		fmt.Fprintln(stdout)
		return false
	}
	return true
}
