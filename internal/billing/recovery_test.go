package billing

import "testing"

func TestRecoverySessionKey(t *testing.T) {
	cases := []struct {
		name         string
		a, b         int64
		replacedA    string
		replacedB    string
		wantSameKeys bool
	}{
		{"same attempt, same replaced session: concurrent clicks share one session", 7, 7, "cs_test_a", "cs_test_a", true},
		{"the first session of an attempt, retried after a crash", 7, 7, "", "", true},
		{"a later replacement is a new session", 7, 7, "cs_test_a", "cs_test_b", false},
		{"another attempt", 7, 8, "cs_test_a", "cs_test_a", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ka, kb := recoverySessionKey(tc.a, tc.replacedA), recoverySessionKey(tc.b, tc.replacedB)
			if (ka == kb) != tc.wantSameKeys {
				t.Errorf("%q vs %q: same = %v, want %v", ka, kb, ka == kb, tc.wantSameKeys)
			}
			if !idempotencyKeyPattern.MatchString(ka) {
				t.Errorf("key %q is not a valid idempotency key", ka)
			}
		})
	}
}

func TestPaidAttempts(t *testing.T) {
	for status, paid := range map[string]bool{
		ChargeProcessing: false, ChargeSucceeded: true, ChargeDeclined: false,
		ChargeAuthenticationRequired: false, ChargeFailed: false, ChargeRecovered: true,
	} {
		if got := (ChargeAttempt{Status: status}).Paid(); got != paid {
			t.Errorf("%s: Paid() = %v, want %v", status, got, paid)
		}
	}
}
