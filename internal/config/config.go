// Package config turns the environment into a validated Config.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/storefront/storefront/internal/smtpmail"
)

// Config is the validated configuration of the store.
type Config struct {
	Port                int
	BaseURL             string
	DatabaseURL         string
	StripeSecretKey     string
	StripeWebhookSecret string
	StripeAPIBase       string
	AdminPassword       string
	Currency            string
	// SMTPURL, when set, is where the outbox's emails are sent.
	SMTPURL string
	// StripeTimeout is the budget of each Stripe call, retries included.
	StripeTimeout time.Duration
	// DatabasePoolSize is the most database connections the server opens.
	DatabasePoolSize int
}

// LocalMode tells whether the store runs on its built-in Stripe emulator,
// which it does whenever no Stripe key is configured.
func (c Config) LocalMode() bool { return c.StripeSecretKey == "" }

// LiveMode tells whether real money moves.
func (c Config) LiveMode() bool { return strings.HasPrefix(c.StripeSecretKey, "sk_live_") }

// Time and pool defaults. A Stripe call gets StripeTimeout, its retries
// included; the web server's timeouts and shutdown drain are derived from it
// so that a request whose Stripe calls run out still answers.
const (
	DefaultStripeTimeout    = 10 * time.Second
	MaxStripeTimeout        = 60 * time.Second
	DefaultDatabasePoolSize = 10
)

// DefaultDatabaseURL is a local database named storefront, created if missing.
const DefaultDatabaseURL = "postgres://127.0.0.1:5432/storefront?sslmode=disable"

var (
	currencyPattern  = regexp.MustCompile(`^[a-z]{3}$`)
	secretKeyPattern = regexp.MustCompile(`^(sk|rk)_(test|live)_[A-Za-z0-9_]+$`)
)

// minAdminPassword keeps the admin area, which can charge cards, from a
// guessable password.
const minAdminPassword = 12

// Load reads the configuration through getenv and validates it, returning
// every problem at once, one line each.
func Load(getenv func(string) string) (Config, error) {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	get := func(key string) string { return strings.TrimSpace(getenv(key)) }

	c := Config{
		Port:                4242,
		DatabaseURL:         DefaultDatabaseURL,
		StripeSecretKey:     get("STRIPE_SECRET_KEY"),
		StripeWebhookSecret: get("STRIPE_WEBHOOK_SECRET"),
		StripeAPIBase:       strings.TrimRight(get("STRIPE_API_BASE"), "/"),
		AdminPassword:       getenv("ADMIN_PASSWORD"),
		Currency:            "usd",
		SMTPURL:             get("SMTP_URL"),
		StripeTimeout:       DefaultStripeTimeout,
		DatabasePoolSize:    DefaultDatabasePoolSize,
	}
	if v := get("PORT"); v != "" {
		port, err := strconv.Atoi(v)
		if err != nil || port < 1 || port > 65535 {
			bad("PORT: %q is not a port number (1-65535)", v)
		} else {
			c.Port = port
		}
	}
	c.BaseURL = fmt.Sprintf("http://localhost:%d", c.Port)
	if v := get("BASE_URL"); v != "" {
		if err := checkHTTPURL(v); err != nil {
			bad("BASE_URL: %v", err)
		}
		c.BaseURL = strings.TrimRight(v, "/")
	}
	if v := get("DATABASE_URL"); v != "" {
		u, err := url.Parse(v)
		switch {
		case err != nil:
			bad("DATABASE_URL: cannot be parsed: %v", err)
		case u.Scheme != "postgres" && u.Scheme != "postgresql":
			bad("DATABASE_URL: must start with postgres:// (got %q)", u.Scheme)
		}
		c.DatabaseURL = v
	}
	if c.StripeSecretKey != "" && !secretKeyPattern.MatchString(c.StripeSecretKey) {
		bad("STRIPE_SECRET_KEY: must look like sk_test_... or sk_live_... (a secret or restricted key, not a publishable pk_ key)")
	}
	if c.StripeWebhookSecret != "" && !strings.HasPrefix(c.StripeWebhookSecret, "whsec_") {
		bad("STRIPE_WEBHOOK_SECRET: must start with whsec_ (the endpoint's signing secret)")
	}
	if c.StripeAPIBase != "" {
		if err := checkHTTPURL(c.StripeAPIBase); err != nil {
			bad("STRIPE_API_BASE: %v", err)
		}
	}
	if !c.LocalMode() {
		switch {
		case c.AdminPassword == "":
			bad("ADMIN_PASSWORD: required when STRIPE_SECRET_KEY is set (the admin area charges cards)")
		case len(c.AdminPassword) < minAdminPassword:
			bad("ADMIN_PASSWORD: must be at least %d characters", minAdminPassword)
		}
	}
	if v := get("CURRENCY"); v != "" {
		v = strings.ToLower(v)
		if !currencyPattern.MatchString(v) {
			bad("CURRENCY: %q is not a three-letter ISO currency code such as usd", v)
		}
		c.Currency = v
	}
	if v := get("STRIPE_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > MaxStripeTimeout {
			bad("STRIPE_TIMEOUT: %q must be a duration from 1s to %s, such as 10s", v, MaxStripeTimeout)
		} else {
			c.StripeTimeout = d
		}
	}
	if v := get("DATABASE_POOL_SIZE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > 1000 {
			bad("DATABASE_POOL_SIZE: %q must be a number of connections from 2 to 1000", v)
		} else {
			c.DatabasePoolSize = n
		}
	}
	if c.SMTPURL != "" {
		if _, err := smtpmail.ParseURL(c.SMTPURL); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("configuration:\n%w", errors.Join(problems...))
	}
	return c, nil
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q cannot be parsed: %v", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http:// or https:// URL", raw)
	}
	return nil
}
