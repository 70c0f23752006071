package resource

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDNSFailure fetches from a name that cannot be resolved. So that no
// lookup leaves the machine, the test re-runs itself in a new network
// namespace (only a downed loopback), where every lookup fails locally.
func TestDNSFailure(t *testing.T) {
	if os.Getenv("RESOURCE_TEST_IN_NETNS") == "" {
		if os.Geteuid() != 0 {
			t.Skip("needs root to make a network namespace")
		}
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Skip("unshare not installed")
		}
		cmd := exec.Command(unshare, "--net", os.Args[0], "-test.run=^TestDNSFailure$", "-test.v")
		cmd.Env = append(os.Environ(), "RESOURCE_TEST_IN_NETNS=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestDNSFailure") {
			t.Fatalf("in a network namespace: %v\n%s", err, out)
		}
		return
	}

	f, err := New(Options{RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, Total: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = f.FetchBytes(context.Background(), Request{URL: "http://config.example.test/user.ign?token=secret", Path: "ignition.config.merge.0"}, 1<<20)
	if err == nil {
		t.Fatal("fetch from an unresolvable name succeeded")
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	for _, want := range []string{"ignition.config.merge.0: fetching http://config.example.test/user.ign?token=REDACTED", "gave up"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("error shows the query value: %q", msg)
	}
	// A lookup failure is retried (at boot DNS is often not up yet) until
	// the total timeout.
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Errorf("not retried until the deadline: %v after %v", err, time.Since(start))
	}
}
