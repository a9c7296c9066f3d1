package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 4242 || c.BaseURL != "http://localhost:4242" || c.Currency != "usd" || c.DatabaseURL != DefaultDatabaseURL {
		t.Errorf("defaults: %+v", c)
	}
	if !c.LocalMode() || c.LiveMode() {
		t.Errorf("no key should mean local mode: %+v", c)
	}
}

func TestLoadDerivesBaseURLFromPort(t *testing.T) {
	c, err := Load(env(map[string]string{"PORT": "8080"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != "http://localhost:8080" {
		t.Errorf("BaseURL = %q", c.BaseURL)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load(env(map[string]string{
		"PORT":                  "99999",
		"BASE_URL":              "localhost:4242",
		"DATABASE_URL":          "mysql://x",
		"STRIPE_SECRET_KEY":     "pk_test_abc",
		"STRIPE_WEBHOOK_SECRET": "secret",
		"STRIPE_API_BASE":       "ftp://x",
		"CURRENCY":              "dollars",
	}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, variable := range []string{"PORT", "BASE_URL", "DATABASE_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE", "ADMIN_PASSWORD", "CURRENCY"} {
		if !strings.Contains(err.Error(), "\n"+variable+":") {
			t.Errorf("no line for %s in:\n%v", variable, err)
		}
	}
}

func TestLoadRequiresAdminPasswordWithKey(t *testing.T) {
	cases := map[string]struct {
		vars    map[string]string
		wantErr bool
	}{
		"test key, no password":  {map[string]string{"STRIPE_SECRET_KEY": "sk_test_123"}, true},
		"live key, short":        {map[string]string{"STRIPE_SECRET_KEY": "sk_live_123", "ADMIN_PASSWORD": "short"}, true},
		"live key, long enough":  {map[string]string{"STRIPE_SECRET_KEY": "sk_live_123", "ADMIN_PASSWORD": "correct horse battery", "STRIPE_WEBHOOK_SECRET": "whsec_x"}, false},
		"local mode, none given": {map[string]string{}, false},
		"local mode, short":      {map[string]string{"ADMIN_PASSWORD": "short"}, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(tc.vars))
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error: %v", err, tc.wantErr)
			}
		})
	}
}

func TestLoadNormalisesCurrency(t *testing.T) {
	c, err := Load(env(map[string]string{"CURRENCY": " EUR "}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Currency != "eur" {
		t.Errorf("Currency = %q", c.Currency)
	}
}

// A key without a webhook secret used to start and verify signatures against
// an empty secret, so anyone could forge events.
func TestLoadRequiresWebhookSecretWithKey(t *testing.T) {
	for _, key := range []string{"sk_test_123", "sk_live_123"} {
		_, err := Load(env(map[string]string{"STRIPE_SECRET_KEY": key, "ADMIN_PASSWORD": "correct horse battery"}))
		if err == nil || !strings.Contains(err.Error(), "\nSTRIPE_WEBHOOK_SECRET:") {
			t.Errorf("%s without STRIPE_WEBHOOK_SECRET: err = %v, want a STRIPE_WEBHOOK_SECRET line", key, err)
		}
	}
}

func TestLoadAllowsLocalModeOnlyOnPurpose(t *testing.T) {
	cases := map[string]struct {
		vars       map[string]string
		wantErr    string
		wantListen string
	}{
		"default localhost":        {vars: map[string]string{}, wantListen: "127.0.0.1:4242"},
		"loopback IP":              {vars: map[string]string{"BASE_URL": "http://127.0.0.1:4242"}, wantListen: "127.0.0.1:4242"},
		"IPv6 loopback":            {vars: map[string]string{"BASE_URL": "http://[::1]:4242"}, wantListen: "127.0.0.1:4242"},
		"public URL, no key":       {vars: map[string]string{"BASE_URL": "https://shop.example.com"}, wantErr: "STRIPE_SECRET_KEY:"},
		"public URL, on purpose":   {vars: map[string]string{"BASE_URL": "https://demo.example.com", "LOCAL_MODE": "true"}, wantListen: "127.0.0.1:4242"},
		"told where to listen":     {vars: map[string]string{"LOCAL_MODE": "1", "LISTEN_HOST": "0.0.0.0"}, wantListen: "0.0.0.0:4242"},
		"switched off, no key":     {vars: map[string]string{"LOCAL_MODE": "false"}, wantErr: "STRIPE_SECRET_KEY:"},
		"switch and key":           {vars: map[string]string{"LOCAL_MODE": "true", "STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_WEBHOOK_SECRET": "whsec_1", "ADMIN_PASSWORD": "correct horse battery"}, wantErr: "LOCAL_MODE:"},
		"switch unreadable":        {vars: map[string]string{"LOCAL_MODE": "sure"}, wantErr: "LOCAL_MODE:"},
		"listen host unreadable":   {vars: map[string]string{"LISTEN_HOST": "bad host!"}, wantErr: "LISTEN_HOST:"},
		"with a key, every iface":  {vars: map[string]string{"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_WEBHOOK_SECRET": "whsec_1", "ADMIN_PASSWORD": "correct horse battery", "BASE_URL": "https://shop.example.com"}, wantListen: ":4242"},
		"localhost subdomain":      {vars: map[string]string{"BASE_URL": "http://shop.localhost:4242"}, wantListen: "127.0.0.1:4242"},
		"lookalike of localhost":   {vars: map[string]string{"BASE_URL": "http://localhost.example.com"}, wantErr: "STRIPE_SECRET_KEY:"},
		"127.0.0.1 as a subdomain": {vars: map[string]string{"BASE_URL": "http://127.0.0.1.nip.io"}, wantErr: "STRIPE_SECRET_KEY:"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := Load(env(tc.vars))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "\n"+tc.wantErr) {
					t.Fatalf("err = %v, want a line starting %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ListenAddr(); got != tc.wantListen {
				t.Errorf("ListenAddr = %q, want %q", got, tc.wantListen)
			}
		})
	}
}

// A DATABASE_URL that cannot be parsed used to be printed back, password and all.
func TestLoadNeverPrintsTheDatabasePassword(t *testing.T) {
	for _, raw := range []string{"postgres://u:hunter2secret@db:5432/x\x7f", "mysql://u:hunter2secret@db/x", "postgres://u:hunter2secret@db:port/x"} {
		_, err := Load(env(map[string]string{"DATABASE_URL": raw}))
		if err == nil {
			t.Errorf("%q: want an error", raw)
			continue
		}
		if strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestLoadTrustedProxies(t *testing.T) {
	c, err := Load(env(map[string]string{"TRUSTED_PROXIES": " 10.0.0.0/8, 127.0.0.1 ,::1"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.TrustedProxies, " "); got != "10.0.0.0/8 127.0.0.1/32 ::1/128" {
		t.Errorf("TrustedProxies = %q", got)
	}
	if _, err := Load(env(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"})); err == nil || !strings.Contains(err.Error(), "TRUSTED_PROXIES:") {
		t.Errorf("a bad prefix: err = %v", err)
	}
}

func TestLoadMetricsAddr(t *testing.T) {
	cases := map[string]struct {
		addr    string
		wantErr bool
	}{
		"unset":             {"", false},
		"loopback":          {"127.0.0.1:9090", false},
		"ipv6 loopback":     {"[::1]:9090", false},
		"every interface":   {"0.0.0.0:9090", false},
		"no host":           {":9090", true},
		"no port":           {"127.0.0.1", true},
		"port out of range": {"127.0.0.1:70000", true},
		"port not a number": {"127.0.0.1:http", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := Load(env(map[string]string{"METRICS_ADDR": tc.addr}))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "METRICS_ADDR:") {
				t.Errorf("the error does not name METRICS_ADDR: %v", err)
			}
			if err == nil && c.MetricsAddr != tc.addr {
				t.Errorf("MetricsAddr = %q, want %q", c.MetricsAddr, tc.addr)
			}
		})
	}
}

func TestLoadTimeBudgetAndPoolSize(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.StripeTimeout != DefaultStripeTimeout || c.DatabasePoolSize != DefaultDatabasePoolSize {
		t.Errorf("defaults: timeout %s, pool %d", c.StripeTimeout, c.DatabasePoolSize)
	}
	c, err = Load(env(map[string]string{"STRIPE_TIMEOUT": "15s", "DATABASE_POOL_SIZE": "25"}))
	if err != nil || c.StripeTimeout.Seconds() != 15 || c.DatabasePoolSize != 25 {
		t.Errorf("set: %s, %d, %v", c.StripeTimeout, c.DatabasePoolSize, err)
	}
	for name, vars := range map[string]map[string]string{
		"timeout not a duration": {"STRIPE_TIMEOUT": "10"},
		"timeout too short":      {"STRIPE_TIMEOUT": "100ms"},
		"timeout too long":       {"STRIPE_TIMEOUT": "5m"},
		"pool not a number":      {"DATABASE_POOL_SIZE": "many"},
		"pool of one":            {"DATABASE_POOL_SIZE": "1"},
	} {
		t.Run(name, func(t *testing.T) {
			for variable := range vars {
				if _, err := Load(env(vars)); err == nil || !strings.Contains(err.Error(), variable+":") {
					t.Errorf("err = %v, want a line for %s", err, variable)
				}
			}
		})
	}
}

func TestLoadBackgroundJobs(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Workers || c.JobTimeout != DefaultJobTimeout || c.EmailRetryMin != DefaultEmailRetryMin || c.EmailRetryMax != DefaultEmailRetryMax {
		t.Errorf("job defaults: %+v", c)
	}
	c, err = Load(env(map[string]string{"WORKERS": "false", "JOB_TIMEOUT": "5s", "EMAIL_RETRY_MIN": "20ms", "EMAIL_RETRY_MAX": "200ms"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers || c.JobTimeout != 5*time.Second || c.EmailRetryMin != 20*time.Millisecond || c.EmailRetryMax != 200*time.Millisecond {
		t.Errorf("job settings: %+v", c)
	}
	for name, vars := range map[string]map[string]string{
		"workers not a bool":   {"WORKERS": "sometimes"},
		"timeout too short":    {"JOB_TIMEOUT": "10ms"},
		"timeout too long":     {"JOB_TIMEOUT": "2h"},
		"retry not duration":   {"EMAIL_RETRY_MIN": "30"},
		"max shorter than min": {"EMAIL_RETRY_MIN": "1m", "EMAIL_RETRY_MAX": "30s"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(env(vars)); err == nil {
				t.Errorf("Load(%v): want an error", vars)
			}
		})
	}
}

func TestLoadRateLimits(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.StripeRateLimit != 25 || c.EmulatorRateLimit != 0 {
		t.Errorf("defaults: STRIPE_RATE_LIMIT %d, EMULATOR_RATE_LIMIT %d; want 25 (Stripe's test mode) and none", c.StripeRateLimit, c.EmulatorRateLimit)
	}
	c, err = Load(env(map[string]string{"STRIPE_RATE_LIMIT": "100", "EMULATOR_RATE_LIMIT": "25"}))
	if err != nil || c.StripeRateLimit != 100 || c.EmulatorRateLimit != 25 {
		t.Errorf("set: %d, %d, %v", c.StripeRateLimit, c.EmulatorRateLimit, err)
	}
	for name, vars := range map[string]map[string]string{
		"zero":             {"STRIPE_RATE_LIMIT": "0"},
		"negative":         {"STRIPE_RATE_LIMIT": "-5"},
		"a fraction":       {"STRIPE_RATE_LIMIT": "2.5"},
		"absurd":           {"STRIPE_RATE_LIMIT": "1000000"},
		"emulator garbage": {"EMULATOR_RATE_LIMIT": "fast"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(vars))
			for k := range vars {
				if err == nil || !strings.Contains(err.Error(), k+":") {
					t.Errorf("Load(%v): %v, want an error naming %s", vars, err, k)
				}
			}
		})
	}
}

func TestLoadDunningSchedule(t *testing.T) {
	cases := map[string]struct {
		value   string
		want    string // fmt of the schedule; "nil" for the default
		wantErr bool
	}{
		"unset: the default": {"", "nil", false},
		"off":                {"off", "[]", false},
		"a schedule":         {"12h,36h", "[12h0m0s 36h0m0s]", false},
		"not increasing":     {"36h,12h", "", true},
		"not a duration":     {"1 day", "", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := Load(env(map[string]string{"DUNNING_SCHEDULE": tc.value}))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "DUNNING_SCHEDULE:") {
					t.Errorf("the error does not name DUNNING_SCHEDULE: %v", err)
				}
				return
			}
			got := fmt.Sprint(c.DunningSchedule)
			if c.DunningSchedule == nil {
				got = "nil"
			}
			if got != tc.want {
				t.Errorf("DunningSchedule = %s, want %s", got, tc.want)
			}
		})
	}
}
