// Package config turns the environment into a validated Config.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/storefront/storefront/internal/billing"
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
	// ListenHost is the interface the server listens on; empty means all.
	ListenHost string
	// TrustedProxies are the CIDR prefixes of the proxies in front of the
	// store, whose X-Forwarded-For names the client; none: the TCP peer is.
	TrustedProxies []string
	// MetricsAddr, when set, is a second listen address (host:port) that
	// serves /metrics without authentication, for a scraper on a private network.
	MetricsAddr string
	// StripeTimeout is the budget of each Stripe call, retries included.
	StripeTimeout time.Duration
	// DatabasePoolSize is the most database connections the server opens.
	DatabasePoolSize int
	// Workers runs background jobs in this process; false: web only.
	Workers bool
	// JobTimeout cancels a background job after this long; one running for
	// twice as long (its replica died) is run again by another.
	JobTimeout time.Duration
	// EmailRetryMin and EmailRetryMax space the tries of an email that
	// cannot be sent: Min after the first failure, doubling up to Max.
	EmailRetryMin time.Duration
	EmailRetryMax time.Duration
	// DunningSchedule is when a soft-declined charge is retried, counted
	// from the decline: nil is billing's default, empty retries nothing.
	DunningSchedule []time.Duration
	// StripeRateLimit is how many requests a second all replicas together
	// send to Stripe.
	StripeRateLimit int
	// EmulatorRateLimit is the in-process emulator's limit in local mode,
	// in requests a second, as Stripe's own; 0: none.
	EmulatorRateLimit int
}

// LocalMode tells whether the store runs on its built-in Stripe emulator.
// Load allows it only on purpose: no key, and a loopback BASE_URL or
// LOCAL_MODE=true.
func (c Config) LocalMode() bool { return c.StripeSecretKey == "" }

// ListenAddr is the address the server listens on.
func (c Config) ListenAddr() string { return net.JoinHostPort(c.ListenHost, strconv.Itoa(c.Port)) }

// LiveMode tells whether real money moves.
func (c Config) LiveMode() bool { return strings.HasPrefix(c.StripeSecretKey, "sk_live_") }

// Time and pool defaults. A Stripe call gets StripeTimeout, its retries
// included; the web server's timeouts and shutdown drain are derived from it
// so that a request whose Stripe calls run out still answers.
const (
	DefaultStripeTimeout    = 10 * time.Second
	MaxStripeTimeout        = 60 * time.Second
	DefaultDatabasePoolSize = 10
	DefaultJobTimeout       = time.Minute
	DefaultEmailRetryMin    = 30 * time.Second
	DefaultEmailRetryMax    = time.Hour
	// DefaultStripeRateLimit is Stripe's limit in test mode; live mode's is 100.
	DefaultStripeRateLimit = 25
	maxRateLimit           = 10000
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
		MetricsAddr:         get("METRICS_ADDR"),
		StripeTimeout:       DefaultStripeTimeout,
		DatabasePoolSize:    DefaultDatabasePoolSize,
		Workers:             true,
		JobTimeout:          DefaultJobTimeout,
		EmailRetryMin:       DefaultEmailRetryMin,
		EmailRetryMax:       DefaultEmailRetryMax,
		StripeRateLimit:     DefaultStripeRateLimit,
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
		if err := checkDatabaseURL(v); err != nil {
			bad("DATABASE_URL: %v", err)
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
	switch {
	case c.AdminPassword == "" && !c.LocalMode():
		bad("ADMIN_PASSWORD: required when STRIPE_SECRET_KEY is set (the admin area charges cards)")
	case c.AdminPassword != "" && len(c.AdminPassword) < minAdminPassword:
		bad("ADMIN_PASSWORD: must be at least %d characters", minAdminPassword)
	}
	if !c.LocalMode() && c.StripeWebhookSecret == "" {
		// Refusing to start beats serving /webhook with a check that anyone
		// passes (an empty secret) or a 503 that Stripe retries for days.
		bad("STRIPE_WEBHOOK_SECRET: required when STRIPE_SECRET_KEY is set (the endpoint's whsec_ signing secret; `stripe listen` prints one)")
	}
	c.ListenHost = get("LISTEN_HOST")
	if c.ListenHost != "" && net.ParseIP(c.ListenHost) == nil && !hostnamePattern.MatchString(c.ListenHost) {
		bad("LISTEN_HOST: %q is not an IP address or a host name", c.ListenHost)
	}
	checkLocalMode(&c, get("LOCAL_MODE"), bad)
	for _, p := range strings.Split(get("TRUSTED_PROXIES"), ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			if ip, err := netip.ParseAddr(p); err == nil {
				p = netip.PrefixFrom(ip, ip.BitLen()).String()
			}
		}
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("TRUSTED_PROXIES: %q is not an IP address or CIDR prefix such as 10.0.0.0/8", p)
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
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
	c.StripeRateLimit = rate(get("STRIPE_RATE_LIMIT"), "STRIPE_RATE_LIMIT", c.StripeRateLimit, 1, bad)
	c.EmulatorRateLimit = rate(get("EMULATOR_RATE_LIMIT"), "EMULATOR_RATE_LIMIT", 0, 0, bad)
	if v := get("WORKERS"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			bad("WORKERS: %q is not true or false", v)
		}
		c.Workers = on
	}
	c.JobTimeout = duration(get("JOB_TIMEOUT"), "JOB_TIMEOUT", c.JobTimeout, time.Second, time.Hour, bad)
	c.EmailRetryMin = duration(get("EMAIL_RETRY_MIN"), "EMAIL_RETRY_MIN", c.EmailRetryMin, 10*time.Millisecond, 24*time.Hour, bad)
	c.EmailRetryMax = duration(get("EMAIL_RETRY_MAX"), "EMAIL_RETRY_MAX", c.EmailRetryMax, 10*time.Millisecond, 24*time.Hour, bad)
	if c.EmailRetryMax < c.EmailRetryMin {
		bad("EMAIL_RETRY_MAX: %s is shorter than EMAIL_RETRY_MIN (%s)", c.EmailRetryMax, c.EmailRetryMin)
	}
	if v := get("DUNNING_SCHEDULE"); v != "" {
		schedule, err := billing.ParseDunningSchedule(v)
		if err != nil {
			bad("DUNNING_SCHEDULE: %v", err)
		}
		c.DunningSchedule = schedule
	}
	if c.SMTPURL != "" {
		if _, err := smtpmail.ParseURL(c.SMTPURL); err != nil {
			problems = append(problems, err)
		}
	}
	if c.MetricsAddr != "" {
		if err := checkMetricsAddr(c.MetricsAddr); err != nil {
			bad("METRICS_ADDR: %v", err)
		}
	}
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("configuration:\n%w", errors.Join(problems...))
	}
	return c, nil
}

// duration parses v as a Go duration from lo to hi, or keeps def when v is empty.
func duration(v, name string, def, lo, hi time.Duration, bad func(string, ...any)) time.Duration {
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		bad("%s: %q must be a duration from %s to %s, such as %s", name, v, lo, hi, def)
		return def
	}
	return d
}

// rate parses v as requests a second, from lo to maxRateLimit, or keeps def when v is empty.
func rate(v, name string, def, lo int, bad func(string, ...any)) int {
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > maxRateLimit {
		bad("%s: %q must be a number of requests a second from %d to %d", name, v, lo, maxRateLimit)
		return def
	}
	return n
}

var hostnamePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// checkLocalMode allows local mode only on purpose. Without a key the store
// serves a fake card page and an emulated Stripe API on its own origin, which
// must never happen on a public address by accident: a loopback BASE_URL, or
// LOCAL_MODE=true, says it is meant. Local mode listens on loopback unless
// LISTEN_HOST says otherwise.
func checkLocalMode(c *Config, switchValue string, bad func(string, ...any)) {
	var on, set bool
	if switchValue != "" {
		v, err := strconv.ParseBool(switchValue)
		if err != nil {
			bad("LOCAL_MODE: %q is not true or false", switchValue)
			return
		}
		on, set = v, true
	}
	switch {
	case !c.LocalMode() && on:
		bad("LOCAL_MODE: true, but STRIPE_SECRET_KEY is set; unset one of them")
	case c.LocalMode() && set && !on:
		bad("STRIPE_SECRET_KEY: required (LOCAL_MODE=false turns the built-in Stripe emulator off)")
	case c.LocalMode() && !on && !loopbackURL(c.BaseURL):
		bad("STRIPE_SECRET_KEY: required when BASE_URL (%s) is not a loopback address; local mode, the built-in Stripe emulator, runs on another address only with LOCAL_MODE=true", c.BaseURL)
	}
	if c.LocalMode() && c.ListenHost == "" {
		c.ListenHost = "127.0.0.1"
	}
}

// loopbackURL tells whether a URL names this machine only.
func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkDatabaseURL validates a PostgreSQL URL without ever repeating it: it
// may carry a password.
func checkDatabaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("cannot be parsed as a URL (postgres://user:password@host:5432/name)")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("must start with postgres:// (got %q)", u.Scheme)
	}
	return nil
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

// checkMetricsAddr wants a host as well as a port: the address serves
// metrics to anyone who reaches it, so every interface must be asked for by
// name (0.0.0.0), never had by leaving the host out.
func checkMetricsAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (for example 127.0.0.1:9090)", addr)
	}
	if host == "" {
		return fmt.Errorf("%q names no host; it serves metrics without a password, so say which interface (for example 127.0.0.1:9090)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: %q is not a port number (1-65535)", addr, port)
	}
	return nil
}
