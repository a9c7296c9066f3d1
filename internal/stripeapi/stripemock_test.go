package stripeapi_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/testkit"
)

// startStripeMock runs Stripe's official OpenAPI-validating mock on a free
// port for the test, or skips (fails under CI) when it is not installed.
func startStripeMock(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		candidate := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "stripe-mock")
		if _, statErr := os.Stat(candidate); statErr != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("stripe-mock is required under CI: go install github.com/stripe/stripe-mock@v0.180.0")
			}
			t.Skip("stripe-mock not installed: go install github.com/stripe/stripe-mock@v0.180.0")
		}
		bin = candidate
	}
	port := testkit.FreePort(t)
	cmd := exec.Command(bin, "-http-addr", fmt.Sprintf("127.0.0.1:%d", port))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck
		cmd.Wait()         //nolint:errcheck
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
