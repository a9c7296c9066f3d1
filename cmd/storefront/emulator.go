package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeemu"
)

// runEmulator serves the Stripe emulator alone, for other apps and manual tests.
func runEmulator(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	flags := flag.NewFlagSet("emulator", flag.ContinueOnError)
	flags.SetOutput(stdout)
	port := flags.Int("port", 12111, "port to listen on")
	host := flags.String("host", "127.0.0.1", "address to listen on")
	webhookURL := flags.String("webhook-url", "", "deliver events to this URL (e.g. http://localhost:4242/webhook)")
	webhookSecret := flags.String("webhook-secret", "", "sign deliveries with this whsec_ secret (required with -webhook-url)")
	secretKey := flags.String("secret-key", "", "accept only this sk_test_ key (default: any test key; set one when others can reach -host)")
	rateLimit := flags.Int("rate-limit", 0, "answer API requests over this many a second with Stripe's 429 rate_limit, as Stripe does (25 in test mode, 100 live); 0: no limit")
	deliveryDelay := flags.Duration("delivery-delay", 0, "hold each event's first webhook delivery back this long, as Stripe's come some time after the answer (default: at once)")
	enabledEvents := flags.String("enabled-events", "", "deliver only these event types (comma-separated), as a Stripe endpoint's enabled events; \"store\": the types the store handles (default: all)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *rateLimit < 0 {
		return errors.New("emulator: -rate-limit must be 0 (none) or a number of requests a second")
	}
	if *webhookURL != "" && *webhookSecret == "" {
		return errors.New("emulator: -webhook-secret is required with -webhook-url")
	}
	var enabled []string
	switch *enabledEvents {
	case "":
	case "store":
		enabled = billing.HandledEventTypes()
	default:
		enabled = strings.Split(*enabledEvents, ",")
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(*host, fmt.Sprint(*port)))
	if err != nil {
		return fmt.Errorf("emulator: listen: %w", err)
	}
	publicURL := fmt.Sprintf("http://localhost:%d", listener.Addr().(*net.TCPAddr).Port)
	emu := stripeemu.New(stripeemu.Options{
		PublicURL:     publicURL,
		WebhookURL:    *webhookURL,
		WebhookSecret: *webhookSecret,
		SecretKey:     *secretKey,
		Logger:        log,
		RateLimit:     float64(*rateLimit),
		DeliveryDelay: *deliveryDelay,
		EnabledEvents: enabled,
	})
	defer emu.Close()
	server := &http.Server{Handler: emu.Handler(), ReadHeaderTimeout: 10 * time.Second}
	keyHint := "any sk_test_ key"
	if *secretKey != "" {
		keyHint = "the key given with -secret-key"
	}
	fmt.Fprintf(stdout, "Stripe emulator listening on %s\n  use STRIPE_API_BASE=%s with %s\n", publicURL, publicURL, keyHint)
	if *rateLimit > 0 {
		fmt.Fprintf(stdout, "  rate limit: %d requests a second, then 429 rate_limit\n", *rateLimit)
	}
	errc := make(chan error, 1)
	go func() { errc <- server.Serve(listener) }()
	select {
	case err := <-errc:
		return fmt.Errorf("emulator: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return server.Shutdown(shutdownCtx)
}
