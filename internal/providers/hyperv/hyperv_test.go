package hyperv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
)

type kv struct{ k, v string }

// pool writes a pool file in the daemon's format.
func pool(t *testing.T, items ...kv) string {
	t.Helper()
	var b bytes.Buffer
	for _, it := range items {
		if len(it.k) >= keySize || len(it.v) >= valueSize {
			t.Fatalf("item %q too long for a record", it.k)
		}
		rec := make([]byte, recordSize)
		copy(rec, it.k)
		copy(rec[keySize:], it.v)
		b.Write(rec)
	}
	p := filepath.Join(t.TempDir(), ".kvp_pool_0")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func host() providers.Host {
	return providers.Host{Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }}
}

// bigConfig is a config too large for one KVP value.
func bigConfig() string {
	var files []string
	for i := range 120 {
		files = append(files, fmt.Sprintf(`{"path": "/etc/file-%03d", "contents": {"source": "data:,hello%%20world%%20%03d"}}`, i, i))
	}
	return `{"ignition": {"version": "3.4.0"}, "storage": {"files": [` + strings.Join(files, ", ") + `]}}`
}

// split cuts s into KVP items of at most 2047 bytes.
func split(s string) []kv {
	var items []kv
	for i := 0; len(s) > 0; i++ {
		n := min(len(s), valueSize-1)
		items = append(items, kv{fmt.Sprintf("ignition.config.%d", i), s[:n]})
		s = s[n:]
	}
	return items
}

func TestFetch(t *testing.T) {
	small := `{"ignition": {"version": "3.4.0"}}`
	big := bigConfig()
	if len(big) < 3*valueSize {
		t.Fatalf("test config is only %d bytes", len(big))
	}
	other := []kv{{"VirtualMachineName", "vm1"}, {"HostName", "hv-host"}}
	parts := split(big)
	shuffled := append([]kv{parts[2]}, append(other, parts[0], parts[1])...)
	shuffled = append(shuffled, parts[3:]...)
	for _, tc := range []struct {
		name  string
		items []kv
		want  string
		err   string
		none  bool
	}{
		{"single item", append(other, kv{"ignition.config", small}), small, "", false},
		{"split items", append(other, parts...), big, "", false},
		{"split items out of order", shuffled, big, "", false},
		{"single item wins over split", append(append([]kv{{"ignition.config", small}}, parts...), other...), small, "", false},
		{"later record overrides", []kv{{"ignition.config", "{}"}, {"ignition.config", small}}, small, "", false},
		{"no items", other, "", "", true},
		{"empty pool", nil, "", "", true},
		{"gap in split items", []kv{parts[0], parts[2]}, "", "ignition.config.1 is missing but ignition.config.2 is set", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fetchFrom(context.Background(), host(), pool(t, tc.items...), 0, time.Millisecond)
			switch {
			case tc.none:
				if !errors.Is(err, providers.ErrNoConfig) {
					t.Fatalf("err = %v, want ErrNoConfig", err)
				}
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
			default:
				if err != nil || string(got) != tc.want {
					t.Fatalf("fetch = %.60q…, %v", got, err)
				}
			}
		})
	}
}

func TestPoolErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, ".kvp_pool_0")
	if _, err := fetchFrom(context.Background(), host(), missing, 0, time.Millisecond); err == nil || errors.Is(err, providers.ErrNoConfig) || !strings.Contains(err.Error(), "hv_kvp_daemon") {
		t.Errorf("missing pool: err = %v", err)
	}
	torn := filepath.Join(dir, "torn")
	if err := os.WriteFile(torn, make([]byte, recordSize+100), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fetchFrom(context.Background(), host(), torn, 0, time.Millisecond); err == nil || !strings.Contains(err.Error(), "whole number") || !strings.Contains(err.Error(), torn) {
		t.Errorf("torn pool: err = %v", err)
	}
}

// TestWaitsForDaemon: the pool appears, first without the config, then
// with it, while the provider waits.
func TestWaitsForDaemon(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".kvp_pool_0")
	src := pool(t, kv{"ignition.config", `{"ignition": {"version": "3.4.0"}}`})
	other := pool(t, kv{"HostName", "hv-host"})
	go func() {
		time.Sleep(30 * time.Millisecond)
		os.Rename(other, p)
		time.Sleep(30 * time.Millisecond)
		os.Rename(src, p)
	}()
	got, err := fetchFrom(context.Background(), host(), p, 5*time.Second, 5*time.Millisecond)
	if err != nil || !strings.Contains(string(got), "3.4.0") {
		t.Fatalf("fetch = %q, %v", got, err)
	}

	// No config ever: ErrNoConfig once the wait is over.
	start := time.Now()
	_, err = fetchFrom(context.Background(), host(), pool(t, kv{"HostName", "hv-host"}), 50*time.Millisecond, 5*time.Millisecond)
	if !errors.Is(err, providers.ErrNoConfig) || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}

	// The context ends the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = fetchFrom(ctx, host(), filepath.Join(dir, "never"), time.Minute, 5*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "hv_kvp_daemon") {
		t.Fatalf("err = %v", err)
	}
}
