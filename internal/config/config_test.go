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
