package main

import (
	"context"
	"encoding/base32"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/config"
	"github.com/storefront/storefront/internal/jobs"
	"github.com/storefront/storefront/internal/metrics"
	"github.com/storefront/storefront/internal/postgres"
	"github.com/storefront/storefront/internal/shop"
	"github.com/storefront/storefront/internal/smtpmail"
	"github.com/storefront/storefront/internal/staff"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/web"
	assets "github.com/storefront/storefront/web"
)

// emulatorPrefix is where local mode mounts the Stripe emulator on the
// store's own port, so a newcomer has one address to open and nothing else.
const emulatorPrefix = "/_stripe"

// localSecretKey is the key the operator commands send to a separately run
// emulator (storefront emulator), which accepts any test key unless told one.
const localSecretKey = "sk_test_local_emulator"

// stripeSetup is how the store reaches Stripe: real keys, or the emulator.
type stripeSetup struct {
	secretKey     string
	apiBase       string
	webhookSecret string
	adminPassword string
	emulator      *stripeemu.Emulator // in-process, local mode only
}

// Names of the shared secrets local mode keeps in the database, so a restart
// keeps the admin's saved login, the webhook secret of events still owed and
// the emulator's key.
const (
	localAdminPasswordSecret = "local_mode.admin_password"
	localWebhookSecretSecret = "local_mode.webhook_secret"
	localEmulatorKeySecret   = "local_mode.emulator_key"
)

// localSecret is the named shared secret as text.
func localSecret(ctx context.Context, db *postgres.DB, name string) (string, error) {
	b, err := db.Secret(ctx, name)
	if err != nil {
		return "", err
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b), nil
}

// emulatorDeliveryDelayVar delays the in-process emulator's webhook
// deliveries. Tests only: it places a kill -9 between the hosted page's
// submit and the webhook's delivery.
const emulatorDeliveryDelayVar = "STOREFRONT_TEST_EMULATOR_DELIVERY_DELAY"

// resolveStripe fills in local mode: the in-process emulator (unless
// STRIPE_API_BASE points at one running elsewhere) restored from the
// database, and a webhook secret and admin password kept there, generated on
// first start.
func resolveStripe(ctx context.Context, cfg config.Config, db *postgres.DB, getenv func(string) string, listenURL string, log *slog.Logger) (stripeSetup, error) {
	s := stripeSetup{
		secretKey:     cfg.StripeSecretKey,
		apiBase:       cfg.StripeAPIBase,
		webhookSecret: cfg.StripeWebhookSecret,
		adminPassword: cfg.AdminPassword,
	}
	if !cfg.LocalMode() {
		return s, nil
	}
	if s.webhookSecret == "" {
		secret, err := localSecret(ctx, db, localWebhookSecretSecret)
		if err != nil {
			return s, err
		}
		s.webhookSecret = "whsec_" + secret
	}
	if s.adminPassword == "" {
		secret, err := localSecret(ctx, db, localAdminPasswordSecret)
		if err != nil {
			return s, err
		}
		s.adminPassword = secret[:16]
	}
	if s.apiBase != "" {
		s.secretKey = localSecretKey
		return s, nil
	}
	// The emulator mounted on the store's own port answers only this key, so
	// its API is no way around the admin's password.
	key, err := localSecret(ctx, db, localEmulatorKeySecret)
	if err != nil {
		return s, err
	}
	s.secretKey = "sk_test_" + key
	var delay time.Duration
	if v := getenv(emulatorDeliveryDelayVar); v != "" {
		if delay, err = time.ParseDuration(v); err != nil {
			return s, fmt.Errorf("%s: %w", emulatorDeliveryDelayVar, err)
		}
	}
	state, err := stripeemu.NewPostgresState(ctx, db.Pool())
	if err != nil {
		return s, err
	}
	s.emulator = stripeemu.New(stripeemu.Options{
		SecretKey:     s.secretKey,
		PublicURL:     cfg.BaseURL + emulatorPrefix,
		WebhookURL:    listenURL + "/webhook",
		WebhookSecret: s.webhookSecret,
		Logger:        log.With("component", "emulator"),
		State:         state,
		DeliveryDelay: delay,
		RateLimit:     float64(cfg.EmulatorRateLimit),
	})
	if err := s.emulator.Restore(ctx); err != nil {
		s.emulator.Close()
		return s, err
	}
	s.apiBase = listenURL + emulatorPrefix
	return s, nil
}

// serve runs the web server and the background jobs until ctx is
// cancelled, then drains both.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	noWorkers := flags.Bool("no-workers", false, "serve web requests only; run no background jobs")
	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("serve: %w (usage: storefront serve [--no-workers])", err)
	}
	cfg, db, _, err := openStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if *noWorkers {
		cfg.Workers = false
	}

	listener, err := net.Listen("tcp", cfg.ListenAddr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr(), err)
	}
	stripeCfg, err := resolveStripe(ctx, cfg, db, getenv, selfURL(listener.Addr().(*net.TCPAddr)), log)
	if err != nil {
		listener.Close()
		return err
	}
	if stripeCfg.emulator != nil {
		defer stripeCfg.emulator.Close()
	}

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Sources{Pool: db.Pool(), LastEventReceivedAt: db.LastEventReceivedAt, Logger: log})
	if err != nil {
		listener.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	gateway := newGateway(cfg, db, stripeCfg.secretKey, stripeCfg.apiBase, m, log)
	svc, err := newService(ctx, cfg, db, gateway, m, log)
	if err != nil {
		listener.Close()
		return err
	}
	shopSvc, err := newShop(ctx, cfg, db, svc, log)
	if err != nil {
		listener.Close()
		return err
	}
	// Cancelled last, after the jobs have stopped: River's UI runs on it.
	uiCtx, stopUI := context.WithCancel(context.WithoutCancel(ctx))
	defer stopUI()
	runner, jobsUI, err := newJobs(uiCtx, cfg, db, svc, shopSvc, log)
	if err != nil {
		listener.Close()
		return err
	}
	// Changes to the catalog made on any replica reach this one's copy as they commit.
	followCtx, stopFollowing := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		db.FollowCatalog(followCtx, shopSvc.CatalogChanged, log)
	}()
	defer func() { stopFollowing(); <-followed }()
	if cfg.LocalMode() {
		// Something to buy on a fresh machine; with a real key the catalog starts empty.
		if seeded, err := shopSvc.SeedDemoCatalog(ctx); err != nil {
			listener.Close()
			return err
		} else if seeded {
			log.Info("local mode: the empty catalog got the demo products")
		}
	}
	flashKey, err := db.Secret(ctx, web.FlashKeyName)
	if err != nil {
		listener.Close()
		return err
	}
	srv, err := web.NewServer(web.Options{
		Service:        svc,
		Shop:           shopSvc,
		Staff:          staff.NewService(db, staff.Options{AdminPassword: stripeCfg.adminPassword}),
		Webhooks:       stripeapi.NewWebhookVerifier(stripeCfg.webhookSecret),
		LocalMode:      cfg.LocalMode(),
		BaseURL:        cfg.BaseURL,
		TrustedProxies: cfg.TrustedProxies,
		Assets:         assets.FS,
		Logger:         log,
		Requests:       m,
		Metrics:        m.Handler(),
		Jobs:           jobsUI,
		FlashKey:       flashKey,
	})
	if err != nil {
		listener.Close()
		return err
	}
	handler := srv.Handler()
	if stripeCfg.emulator != nil {
		mux := http.NewServeMux()
		mux.Handle(emulatorPrefix+"/", http.StripPrefix(emulatorPrefix, stripeCfg.emulator.Handler()))
		mux.Handle("/", handler)
		handler = mux
	}
	httpServer := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      writeTimeout(cfg.StripeTimeout),
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	printBanner(stdout, cfg, stripeCfg)
	errc := make(chan error, 2)
	go func() { errc <- httpServer.Serve(listener) }()
	if cfg.MetricsAddr != "" {
		metricsServer, err := serveMetrics(cfg.MetricsAddr, m.Handler(), errc)
		if err != nil {
			httpServer.Close()
			return err
		}
		defer metricsServer.Close()
		fmt.Fprintf(stdout, "  metrics:    http://%s/metrics (no password: keep it private)\n", cfg.MetricsAddr)
	}

	if cfg.Workers {
		if err := runner.Start(ctx); err != nil {
			httpServer.Close()
			return err
		}
		fmt.Fprintln(stdout, "  jobs:       running here; see /admin/jobs and /admin/outbox")
	} else {
		fmt.Fprintln(stdout, "  jobs:       not run here (web only); other replicas run them")
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	drain := requestBudget(cfg.StripeTimeout)
	log.Info("shutting down: draining requests and jobs", "drain", drain.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	// Requests and jobs drain side by side, within the same budget.
	jobsDone := make(chan error, 1)
	go func() {
		if !cfg.Workers {
			jobsDone <- nil
			return
		}
		jobsDone <- runner.Stop(shutdownCtx)
	}()
	httpErr := httpServer.Shutdown(shutdownCtx)
	jobsErr := <-jobsDone
	if httpErr != nil {
		return fmt.Errorf("shutdown: %w", httpErr)
	}
	if jobsErr != nil {
		return fmt.Errorf("shutdown: %w", jobsErr)
	}
	return nil
}

// selfURL is how the process reaches its own listener, for the emulator's
// webhook deliveries and stripe-go's calls to the emulator.
func selfURL(addr *net.TCPAddr) string {
	ip := addr.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(addr.Port))
}

// serveMetrics serves /metrics without authentication on a listen address
// of its own, for a scraper on a private network; its failure is sent to errc.
func serveMetrics(addr string, handler http.Handler, errc chan<- error) (*http.Server, error) {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on METRICS_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", handler)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("metrics: %w", err)
		}
	}()
	return srv, nil
}

// maxStripeCallsPerRequest is the most Stripe calls one request makes one
// after another: a recovery link expires the old session, reads it back and
// makes a new one; a return page reads the session, sets the default card
// and refunds a duplicate.
const maxStripeCallsPerRequest = 4

// requestBudget is the longest a request can take: its Stripe calls in a row,
// each at its deadline, and a margin for the database, rendering and
// stripe-go's pauses between retries. Shutdown drains for this long, so a
// SIGTERM during a Stripe call lets the call finish and the request answer.
func requestBudget(stripeTimeout time.Duration) time.Duration {
	return maxStripeCallsPerRequest*stripeTimeout + 10*time.Second
}

// writeTimeout is comfortably longer than any request's budget, so an answer
// is never cut off (the admin would see an empty reply while the log says 303).
func writeTimeout(stripeTimeout time.Duration) time.Duration {
	return requestBudget(stripeTimeout) + 10*time.Second
}

// stripeRateLimitName names the schedule of Stripe requests in rate_limits.
const stripeRateLimitName = "stripe"

// newGateway is Stripe through stripe-go, every request paced on the
// schedule all replicas share (STRIPE_RATE_LIMIT). stripe-go resends, with
// the same idempotency key, a request Stripe answers 409 or 429 with
// Stripe-Should-Retry: true, or that failed on the network, twice (its
// default), half a second and a second later; each resend takes its own slot.
func newGateway(cfg config.Config, db *postgres.DB, secretKey, apiBase string, observer stripeapi.CallObserver, log *slog.Logger) *stripeapi.Gateway {
	retries := int64(stripeMaxNetworkRetries)
	return stripeapi.New(stripeapi.Config{SecretKey: secretKey, APIBase: apiBase, Timeout: cfg.StripeTimeout, Logger: log,
		Observer: observer, MaxNetworkRetries: &retries, Limiter: db.RateLimit(stripeRateLimitName, cfg.StripeRateLimit)})
}

// stripeMaxNetworkRetries is stripe-go's default, named: its pauses (0.5 s,
// then 1 s) fit well inside STRIPE_TIMEOUT's 10 s.
const stripeMaxNetworkRetries = 2

// newService wires billing with the secrets every replica shares.
func newService(ctx context.Context, cfg config.Config, db *postgres.DB, gateway billing.Gateway, observer billing.Observer, log *slog.Logger) (*billing.Service, error) {
	key, err := db.Secret(ctx, billing.RecoveryKeyName)
	if err != nil {
		return nil, err
	}
	return billing.NewService(db, gateway, billing.Options{
		BaseURL: cfg.BaseURL, Currency: cfg.Currency, APIVersion: stripeapi.APIVersion, RecoveryKey: key, Logger: log, Observer: observer,
		DunningSchedule: cfg.DunningSchedule,
		// Every money or card action is attributed to the context's actor, or refused.
		Audit: staff.NewService(db, staff.Options{}).Record,
	}), nil
}

// newShop wires the shop over billing, with the key of its order links.
func newShop(ctx context.Context, cfg config.Config, db *postgres.DB, svc *billing.Service, log *slog.Logger) (*shop.Service, error) {
	key, err := db.Secret(ctx, shop.LinkKeyName)
	if err != nil {
		return nil, err
	}
	return shop.NewService(db, svc, shop.Options{
		BaseURL: cfg.BaseURL, LinkKey: key, Logger: log,
		Audit: staff.NewService(db, staff.Options{}).Record,
	}), nil
}

// newJobs builds the background jobs' runner (started by the caller when
// this process runs workers) and River's UI for the admin.
func newJobs(ctx context.Context, cfg config.Config, db *postgres.DB, svc *billing.Service, shopSvc *shop.Service, log *slog.Logger) (*jobs.Runner, http.Handler, error) {
	var mailer billing.Mailer
	if cfg.SMTPURL != "" {
		m, err := newMailer(cfg)
		if err != nil {
			return nil, nil, err
		}
		mailer = m
	}
	host, _ := os.Hostname()
	runner, err := jobs.New(db.Pool(), jobs.Options{
		Service:      svc,
		Shop:         shopSvc,
		Mailer:       mailer,
		EmailBackoff: jobs.Backoff{Min: cfg.EmailRetryMin, Max: cfg.EmailRetryMax},
		JobTimeout:   cfg.JobTimeout,
		Periodic:     jobs.Schedules(),
		// Unique while it runs, and telling an operator which process ran a job.
		ID:     fmt.Sprintf("storefront_%s_%d", host, os.Getpid()),
		Logger: log.With("component", "jobs"),
	})
	if err != nil {
		return nil, nil, err
	}
	ui, err := runner.UI(ctx, "/admin/jobs")
	if err != nil {
		return nil, nil, err
	}
	return runner, ui, nil
}

// newMailer is the SMTP sender of SMTP_URL. A send is cut off well inside
// a job's timeout (go-mail renews its deadline up to three times), so that
// no send outlives the hold its job has on the message.
func newMailer(cfg config.Config) (*smtpmail.Sender, error) {
	smtpCfg, err := smtpmail.ParseURL(cfg.SMTPURL)
	if err != nil {
		return nil, err
	}
	return smtpmail.New(smtpCfg, smtpmail.WithTimeout(min(smtpmail.DefaultTimeout, cfg.JobTimeout/4)))
}

func printBanner(w io.Writer, cfg config.Config, s stripeSetup) {
	fmt.Fprintf(w, "storefront listening on %s\n", cfg.BaseURL)
	if !cfg.LocalMode() {
		mode := "test"
		if cfg.LiveMode() {
			mode = "LIVE"
		}
		fmt.Fprintf(w, "  Stripe: %s mode; webhooks at %s/webhook\n", mode, cfg.BaseURL)
		return
	}
	if s.emulator != nil {
		fmt.Fprintf(w, "  local mode: built-in Stripe emulator at %s%s (no keys, no network)\n", cfg.BaseURL, emulatorPrefix)
	} else {
		fmt.Fprintf(w, "  local mode: Stripe emulator at %s\n", s.apiBase)
	}
	if cfg.AdminPassword == "" {
		fmt.Fprintf(w, "  admin:      %s/admin  user admin, password %s (generated once, kept in the database; set ADMIN_PASSWORD to choose one)\n", cfg.BaseURL, s.adminPassword)
	} else {
		fmt.Fprintf(w, "  admin:      %s/admin  user admin, password from ADMIN_PASSWORD\n", cfg.BaseURL)
	}
	fmt.Fprintln(w, "  test card:  4242 4242 4242 4242, any future expiry, any 3-digit CVC (4 digits for Amex)")
}
