package config

import (
	"strings"
	"testing"
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
		"live key, long enough":  {map[string]string{"STRIPE_SECRET_KEY": "sk_live_123", "ADMIN_PASSWORD": "correct horse battery"}, false},
		"local mode, none given": {map[string]string{}, false},
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
