package exec

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/resource"
)

// host is a fake machine under a temp dir: the three config dirs, a kernel
// command line, the platform's config file and the files the stages
// write, all reached through environment overrides and Paths, never
// through the real defaults.
type host struct {
	t                      *testing.T
	root                   string
	system, local, runtime string
	cmdline, configFile    string
	cache, neednet         string
	env                    map[string]string
	logs                   *syncBuffer
}

func newHost(t *testing.T) *host {
	t.Helper()
	root := t.TempDir()
	h := &host{
		t:          t,
		root:       root,
		system:     filepath.Join(root, "usr/lib/ignition"),
		local:      filepath.Join(root, "etc/ignition"),
		runtime:    filepath.Join(root, "run/ignition"),
		cmdline:    filepath.Join(root, "proc/cmdline"),
		configFile: filepath.Join(root, "provider/config.ign"),
		cache:      filepath.Join(root, "run/ignition.json"),
		neednet:    filepath.Join(root, "run/ignition/neednet"),
		logs:       &syncBuffer{},
	}
	h.env = map[string]string{
		KernelCmdlineEnv:       h.cmdline,
		SystemConfigDirEnv:     h.system,
		LocalConfigDirEnv:      h.local,
		RuntimeConfigDirEnv:    h.runtime,
		"IGNITION_CONFIG_FILE": h.configFile,
	}
	h.write(h.cmdline, "BOOT_IMAGE=/vmlinuz root=UUID=1234 ro quiet\n")
	return h
}

func (h *host) acquirer() *Acquirer {
	return &Acquirer{
		Platform: "file",
		Env: func(k string) (string, bool) {
			v, ok := h.env[k]
			return v, ok
		},
		Log:     log.NewWithSink(log.NewWriterSink(h.logs)),
		Options: resource.Options{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, Total: 10 * time.Second},
		Paths:   Paths{Cache: h.cache, NeedNet: h.neednet},
	}
}

// write creates a file (and its dirs) under the host.
func (h *host) write(path, content string) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// fileConfig is a config of the given version writing each path with the
// given contents ("path=contents").
func fileConfig(version string, files ...string) string {
	var entries []string
	for _, f := range files {
		p, c, _ := strings.Cut(f, "=")
		entries = append(entries, fmt.Sprintf(`{"path": %q, "contents": {"source": %q}}`, p, dataURL(c)))
	}
	return fmt.Sprintf(`{"ignition": {"version": %q}, "storage": {"files": [%s]}}`, version, strings.Join(entries, ", "))
}

// mergeConfig is a config with files that merges the given URLs.
func mergeConfig(urls []string, files ...string) string {
	var refs []string
	for _, u := range urls {
		refs = append(refs, fmt.Sprintf(`{"source": %q}`, u))
	}
	cfg := fileConfig("3.4.0", files...)
	return strings.Replace(cfg, `"version": "3.4.0"}`, fmt.Sprintf(`"version": "3.4.0", "config": {"merge": [%s]}}`, strings.Join(refs, ", ")), 1)
}

func dataURL(s string) string { return "data:," + url.PathEscape(s) }

// files maps each file path of cfg to its contents (decoded data URL).
func files(t *testing.T, cfg types.Config) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range cfg.Storage.Files {
		src := ""
		if f.Contents.Source != nil {
			s, err := url.PathUnescape(strings.TrimPrefix(*f.Contents.Source, "data:,"))
			if err != nil {
				t.Fatal(err)
			}
			src = s
		}
		out[f.Path] = src
	}
	return out
}

func paths(cfg types.Config) []string {
	var out []string
	for _, f := range cfg.Storage.Files {
		out = append(out, f.Path)
	}
	return out
}

// server serves configs by path, counting requests and remembering the
// Accept header. It listens on 127.0.0.1 only.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	files  map[string]string
	hits   int
	accept string
}

func newServer(t *testing.T, files map[string]string) *server {
	t.Helper()
	s := &server{files: files}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.hits++
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

func (s *server) requests() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits, s.accept
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testCA returns a self-signed CA certificate in PEM.
func testCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
