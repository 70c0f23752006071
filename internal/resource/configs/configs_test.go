package configs

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/resource"
)

func dataURL(s string) string { return "data:," + url.PathEscape(s) }

func sha512Of(s string) string {
	sum := sha512.Sum512([]byte(s))
	return "sha512-" + hex.EncodeToString(sum[:])
}

func parse(t *testing.T, raw string) types.Config {
	t.Helper()
	cfg, r, err := config.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	return cfg
}

func fastOptions() resource.Options {
	return resource.Options{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, Total: 5 * time.Second}
}

func paths(cfg types.Config) []string {
	var out []string
	for _, f := range cfg.Storage.Files {
		out = append(out, f.Path)
	}
	return out
}

// server serves configs by path and counts requests.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	files  map[string]string
	hits   map[string]int
	accept string
}

func newServer(t *testing.T) *server {
	s := &server{files: map[string]string{}, hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.hits[r.URL.Path]++
		s.accept = r.Header.Get("Accept")
		body, ok := s.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) set(path, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = body
}

func TestMergeDepthFirstInOrder(t *testing.T) {
	grandchild := `{"ignition": {"version": "3.0.0"}, "storage": {"files": [{"path": "/c"}]}}`
	child1 := fmt.Sprintf(`{"ignition": {"version": "3.2.0", "config": {"merge": [{"source": %q}]}}, "storage": {"files": [{"path": "/b"}]}}`, dataURL(grandchild))
	child2 := `{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/d"}, {"path": "/a", "mode": 384}]}}`
	top := parse(t, fmt.Sprintf(`{"ignition": {"version": "3.6.0", "config": {"merge": [{"source": %q}, {"source": %q}]}},
		"storage": {"files": [{"path": "/a", "mode": 420}]}}`, dataURL(child1), dataURL(child2)))

	a := &Assembler{Options: fastOptions()}
	got, err := a.Render(context.Background(), top, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "/a /b /c /d"; strings.Join(paths(got), " ") != want {
		t.Errorf("files %v, want %s", paths(got), want)
	}
	// The later child's mode wins over the parent's for /a.
	if m := got.Storage.Files[0].Mode; m == nil || *m != 384 {
		t.Errorf("mode of /a: %v", m)
	}
}

func TestReplaceDiscardsTheOriginal(t *testing.T) {
	replacement := `{"ignition": {"version": "3.3.0"}, "storage": {"files": [{"path": "/new"}]}}`
	top := parse(t, fmt.Sprintf(`{"ignition": {"version": "3.6.0", "config": {"replace": {"source": %q, "verification": {"hash": %q}}}},
		"storage": {"files": [{"path": "/old"}]}}`, dataURL(replacement), sha512Of(replacement)))
	got, err := (&Assembler{Options: fastOptions()}).Render(context.Background(), top, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(paths(got), " ") != "/new" {
		t.Errorf("files %v, want only /new", paths(got))
	}
}

func TestHTTPChildrenAndHashes(t *testing.T) {
	s := newServer(t)
	child := `{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/from-http"}]}}`
	s.set("/child.ign", child)
	top := parse(t, fmt.Sprintf(`{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": %q, "verification": {"hash": %q}}]}}}`,
		s.URL+"/child.ign", sha512Of(child)))
	got, err := (&Assembler{Options: fastOptions()}).Render(context.Background(), top, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(paths(got), " ") != "/from-http" {
		t.Errorf("files %v", paths(got))
	}
	if !strings.HasPrefix(s.accept, "application/vnd.coreos.ignition+json") {
		t.Errorf("Accept %q", s.accept)
	}

	// A changed child fails its hash: a clear error naming where it is referenced.
	s.set("/child.ign", strings.Replace(child, "from-http", "tampered", 1))
	_, err = (&Assembler{Options: fastOptions()}).Render(context.Background(), top, "")
	var mismatch *resource.HashMismatchError
	if !errors.As(err, &mismatch) || !strings.Contains(err.Error(), "ignition.config.merge.0") {
		t.Errorf("got %v", err)
	}
}

func TestChildParseErrorsSayWhere(t *testing.T) {
	child := "{\"ignition\": {\"version\": \"3.4.0\"},\n \"storage\": {\"files\": [{\"path\": \"relative\"}]}}"
	top := parse(t, fmt.Sprintf(`{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": %q}]}}}`, dataURL(child)))
	_, err := (&Assembler{Options: fastOptions()}).Render(context.Background(), top, "")
	if err == nil {
		t.Fatal("invalid child accepted")
	}
	for _, want := range []string{"ignition.config.merge.0 (data URL", "config is not valid", "error at $.storage.files.0.path, line 2 col 33: path not absolute"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestChildWarningsAreReported(t *testing.T) {
	child := `{"ignition": {"version": "3.4.0"}, "extra": true}`
	top := parse(t, fmt.Sprintf(`{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": %q}]}}}`, dataURL(child)))
	var warnings []string
	a := &Assembler{Options: fastOptions(), Warn: func(m string) { warnings = append(warnings, m) }}
	if _, err := a.Render(context.Background(), top, ""); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "unused key extra") {
		t.Errorf("warnings %q", warnings)
	}
}

func TestCycles(t *testing.T) {
	s := newServer(t)
	a := fmt.Sprintf(`{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": %q}]}}}`, s.URL+"/b.ign")
	b := fmt.Sprintf(`{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": %q}]}}}`, s.URL+"/a.ign")
	s.set("/a.ign", a)
	s.set("/b.ign", b)
	_, err := (&Assembler{Options: fastOptions()}).Render(context.Background(), parse(t, a), s.URL+"/a.ign")
	if !errors.Is(err, ErrCycle) || !strings.Contains(err.Error(), "/a.ign → ") {
		t.Fatalf("got %v", err)
	}
	// A replace that points back is a cycle too.
	r := fmt.Sprintf(`{"ignition": {"version": "3.4.0", "config": {"replace": {"source": %q}}}}`, s.URL+"/r.ign")
	s.set("/r.ign", r)
	if _, err := (&Assembler{Options: fastOptions()}).Render(context.Background(), parse(t, r), ""); !errors.Is(err, ErrCycle) {
		t.Fatalf("got %v", err)
	}
}

func TestDepthLimit(t *testing.T) {
	s := newServer(t)
	// /n0 merges /n1 … merges /n(MaxDepth+2): a chain, no cycle.
	for i := 0; i <= MaxDepth+2; i++ {
		s.set(fmt.Sprintf("/n%d", i), fmt.Sprintf(`{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": %q}]}}}`, fmt.Sprintf("%s/n%d", s.URL, i+1)))
	}
	s.set(fmt.Sprintf("/n%d", MaxDepth+3), `{"ignition": {"version": "3.4.0"}}`)
	top := parse(t, fmt.Sprintf(`{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": %q}]}}}`, s.URL+"/n0"))
	_, err := (&Assembler{Options: fastOptions()}).Render(context.Background(), top, "")
	if err == nil || !strings.Contains(err.Error(), "nest more than") {
		t.Fatalf("got %v", err)
	}
}

func TestOfflineNeedsNetwork(t *testing.T) {
	top := parse(t, `{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": "http://127.0.0.1:1/x.ign"}]}}}`)
	opts := fastOptions()
	opts.Offline = true
	_, err := (&Assembler{Options: opts}).Render(context.Background(), top, "")
	if !errors.Is(err, resource.ErrNeedsNetwork) {
		t.Fatalf("got %v", err)
	}
}

// TestParentSettingsGovernChildFetches checks that a config's timeouts
// apply to the fetches it makes: a child that is slower than httpTotal
// fails, and the same child within the limit succeeds.
func TestParentSettingsGovernChildFetches(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(1500 * time.Millisecond)
		fmt.Fprint(w, `{"ignition": {"version": "3.4.0"}}`)
	}))
	defer slow.Close()
	for _, tc := range []struct {
		total int
		ok    bool
	}{{1, false}, {10, true}} {
		top := parse(t, fmt.Sprintf(`{"ignition": {"version": "3.4.0", "timeouts": {"httpTotal": %d}, "config": {"merge": [{"source": %q}]}}}`, tc.total, slow.URL))
		opts := fastOptions()
		opts.Total = 0 // from the config only
		_, err := (&Assembler{Options: opts}).Render(context.Background(), top, "")
		if (err == nil) != tc.ok {
			t.Errorf("httpTotal %d: got %v", tc.total, err)
		}
	}
}

// TestCAsFromTheConfig fetches an https child whose server is trusted only
// through a CA bundle the parent config names (as a data URL).
func TestCAsFromTheConfig(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/tls"}]}}`)
	}))
	defer srv.Close()
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))

	without := parse(t, fmt.Sprintf(`{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": %q}]}}}`, srv.URL))
	start := time.Now()
	if _, err := (&Assembler{Options: fastOptions()}).Render(context.Background(), without, ""); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted server accepted: %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("an untrusted certificate should fail at once, not be retried")
	}

	with := parse(t, fmt.Sprintf(`{"ignition": {"version": "3.4.0",
		"security": {"tls": {"certificateAuthorities": [{"source": %q, "verification": {"hash": %q}}]}},
		"config": {"merge": [{"source": %q}]}}}`, dataURL(ca), sha512Of(ca), srv.URL))
	got, err := (&Assembler{Options: fastOptions()}).Render(context.Background(), with, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(paths(got), " ") != "/tls" {
		t.Errorf("files %v", paths(got))
	}
}
