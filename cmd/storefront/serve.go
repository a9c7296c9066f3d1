package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/config"
	"github.com/storefront/storefront/internal/postgres"
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

// localSecretKey is the key stripe-go sends to the emulator, which accepts any test key.
const localSecretKey = "sk_test_local_emulator"

// stripeSetup is how the store reaches Stripe: real keys, or the emulator.
type stripeSetup struct {
	secretKey     string
	apiBase       string
	webhookSecret string
	adminPassword string
	emulator      *stripeemu.Emulator // in-process, local mode only
}

// resolveStripe fills in local mode: the in-process emulator (unless
// STRIPE_API_BASE points at one running elsewhere), a generated webhook
// secret and a generated admin password.
func resolveStripe(cfg config.Config, listenURL string, log *slog.Logger) stripeSetup {
	s := stripeSetup{
		secretKey:     cfg.StripeSecretKey,
		apiBase:       cfg.StripeAPIBase,
		webhookSecret: cfg.StripeWebhookSecret,
		adminPassword: cfg.AdminPassword,
	}
	if !cfg.LocalMode() {
		return s
	}
	s.secretKey = localSecretKey
	if s.webhookSecret == "" {
		s.webhookSecret = "whsec_" + rand.Text()
	}
	if s.adminPassword == "" {
		s.adminPassword = rand.Text()[:16]
	}
	if s.apiBase == "" {
		s.emulator = stripeemu.New(stripeemu.Options{
			PublicURL:     cfg.BaseURL + emulatorPrefix,
			WebhookURL:    listenURL + "/webhook",
			WebhookSecret: s.webhookSecret,
			Logger:        log.With("component", "emulator"),
		})
		s.apiBase = listenURL + emulatorPrefix
	}
	return s
}

// serve runs the web server until ctx is cancelled, then drains it.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	cfg, db, _, err := openStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()

	listener, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	stripeCfg := resolveStripe(cfg, fmt.Sprintf("http://127.0.0.1:%d", port), log)
	if stripeCfg.emulator != nil {
		defer stripeCfg.emulator.Close()
	}

	gateway := stripeapi.New(stripeapi.Config{SecretKey: stripeCfg.secretKey, APIBase: stripeCfg.apiBase, Logger: log})
	svc, err := newService(ctx, cfg, db, gateway, log)
	if err != nil {
		listener.Close()
		return err
	}
	if cfg.SMTPURL != "" {
		mailer, err := newMailer(cfg)
		if err != nil {
			listener.Close()
			return err
		}
		go deliverNotifications(ctx, svc, mailer, log)
	}
	srv, err := web.NewServer(web.Options{
		Service:   svc,
		Staff:     staff.NewService(db, staff.Options{AdminPassword: stripeCfg.adminPassword}),
		BaseURL:   cfg.BaseURL,
		Webhooks:  stripeapi.NewWebhookVerifier(stripeCfg.webhookSecret),
		LocalMode: cfg.LocalMode(),
		Assets:    assets.FS,
		Logger:    log,
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
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	printBanner(stdout, cfg, stripeCfg)
	errc := make(chan error, 1)
	go func() { errc <- httpServer.Serve(listener) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// newService wires billing with the secrets every replica shares.
func newService(ctx context.Context, cfg config.Config, db *postgres.DB, gateway billing.Gateway, log *slog.Logger) (*billing.Service, error) {
	key, err := db.Secret(ctx, billing.RecoveryKeyName)
	if err != nil {
		return nil, err
	}
	return billing.NewService(db, gateway, billing.Options{
		BaseURL: cfg.BaseURL, Currency: cfg.Currency, APIVersion: stripeapi.APIVersion, RecoveryKey: key, Logger: log,
		// Every money or card action is attributed to the context's actor, or refused.
		Audit: staff.NewService(db, staff.Options{}).Record,
	}), nil
}

func newMailer(cfg config.Config) (*smtpmail.Sender, error) {
	smtpCfg, err := smtpmail.ParseURL(cfg.SMTPURL)
	if err != nil {
		return nil, err
	}
	var opts []smtpmail.Option
	if smtpCfg.From == "" {
		opts = append(opts, smtpmail.WithFrom("storefront@localhost"))
	}
	sender := smtpmail.New(smtpCfg, opts...)
	if err := sender.Validate(); err != nil {
		return nil, err
	}
	return sender, nil
}

// notificationInterval is how often the outbox is looked at for mail to send.
const notificationInterval = 5 * time.Second

// deliverNotifications sends the outbox until ctx ends.
func deliverNotifications(ctx context.Context, svc *billing.Service, mailer billing.Mailer, log *slog.Logger) {
	ticker := time.NewTicker(notificationInterval)
	defer ticker.Stop()
	for {
		if sent, err := svc.DeliverNotifications(ctx, mailer); err != nil {
			log.Warn("outbox", "err", err)
		} else if sent > 0 {
			log.Info("outbox: emails sent", "count", sent)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
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
		fmt.Fprintf(w, "  admin:      %s/admin  user admin, password %s (generated; set ADMIN_PASSWORD to choose one)\n", cfg.BaseURL, s.adminPassword)
	} else {
		fmt.Fprintf(w, "  admin:      %s/admin  user admin, password from ADMIN_PASSWORD\n", cfg.BaseURL)
	}
	fmt.Fprintln(w, "  test card:  4242 4242 4242 4242, any future expiry, any CVC")
}
