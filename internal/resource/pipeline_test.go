package resource

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config/types"
)

// Helpers shared by this package's core tests. Their names start with
// "core" so they cannot clash with the scheme tests' helpers.

// coreFetcher returns a Fetcher with fast retries whose http transport may
// dial only loopback IP literals: a test that would reach the network or
// resolve a name fails instead.
func coreFetcher(t *testing.T, opts Options) *Fetcher {
	t.Helper()
	if opts.RetryMin == 0 {
		opts.RetryMin = 5 * time.Millisecond
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 20 * time.Millisecond
	}
	f, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tr := coreTransport(f)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("the fetcher dialed %q: tests may only dial loopback addresses", addr)
			return nil, fmt.Errorf("test refused to dial %q", addr)
		}
		return dial(ctx, network, addr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return f
}

// coreTransport is the transport all of f's http(s) fetches use.
func coreTransport(f *Fetcher) *http.Transport {
	return f.schemes["https"].(*httpScheme).client.Transport.(*http.Transport)
}

// coreCtx bounds a test, so that a fetch retrying forever fails the test
// instead of hanging it.
func coreCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// coreBytes returns n deterministic, poorly compressible bytes.
func coreBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func coreSHA512(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512-" + hex.EncodeToString(s[:])
}

func coreSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256-" + hex.EncodeToString(s[:])
}

func coreGzip(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// coreSeen is what a test server saw of one request.
type coreSeen struct {
	Method, RequestURI, Host string
	Header                   http.Header
}

// coreLog records the requests a test server receives.
type coreLog struct {
	mu   sync.Mutex
	seen []coreSeen
}

// add records r and returns how many requests have been seen, r included.
func (l *coreLog) add(r *http.Request) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, coreSeen{Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, Header: r.Header.Clone()})
	return len(l.seen)
}

func (l *coreLog) all() []coreSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

func (l *coreLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

// coreServe starts an http server on loopback, closed when the test ends.
func coreServe(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// coreCut sends the headers of a complete response of len(full) bytes
// (plus whatever the handler already set), then only full[:n], and closes
// the connection: a body broken off mid-way.
func coreCut(t *testing.T, w http.ResponseWriter, full []byte, n int) {
	w.Header().Set("Content-Length", strconv.Itoa(len(full)))
	w.WriteHeader(http.StatusOK)
	w.Write(full[:n])
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		t.Errorf("flushing the cut response: %v", err)
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		t.Errorf("hijacking: %v", err)
		return
	}
	conn.Close()
}

// coreDir lists the names in dir, sorted.
func coreDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func coreReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func coreWriteFile(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestDataURLs(t *testing.T) {
	f := coreFetcher(t, Options{})
	payload := bytes.Repeat([]byte("ignition "), 500)
	gzURL := "data:;base64," + base64.StdEncoding.EncodeToString(coreGzip(t, payload))
	cases := []struct {
		name string
		req  Request
		want []byte
	}{
		{"plain", Request{URL: "data:,hello%2C%20world"}, []byte("hello, world")},
		{"base64", Request{URL: "data:text/plain;base64,aGVsbG8gd29ybGQ="}, []byte("hello world")},
		{"empty", Request{URL: "data:,"}, []byte{}},
		{"gzip and hash", Request{URL: gzURL, Compression: "gzip", Hash: coreSHA256(payload)}, payload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.FetchBytes(coreCtx(t), c.req, 1<<20)
			if err != nil {
				t.Fatalf("FetchBytes: %v", err)
			}
			if !bytes.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}

	t.Run("undecodable", func(t *testing.T) {
		_, err := f.FetchBytes(coreCtx(t), Request{URL: "data:;base64,!!!not base64!!!", Path: "p"}, 1<<20)
		var ferr *Error
		if !errors.As(err, &ferr) || ferr.Path != "p" {
			t.Fatalf("got %v, want an *Error for path p", err)
		}
	})
}

func TestOfflineFetchesOnlyDataURLs(t *testing.T) {
	var log coreLog
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		w.Write([]byte("should not be fetched"))
	})
	f := coreFetcher(t, Options{Offline: true})
	ctx := coreCtx(t)

	got, err := f.FetchBytes(ctx, Request{URL: "data:,offline%20ok"}, 100)
	if err != nil || string(got) != "offline ok" {
		t.Fatalf("data URL offline: got %q, %v", got, err)
	}

	port := srv.Listener.Addr().(*net.TCPAddr).Port
	for _, u := range []string{
		srv.URL + "/config?token=secret",
		fmt.Sprintf("https://127.0.0.1:%d/config", port),
		fmt.Sprintf("tftp://127.0.0.1:%d/config", port),
		"s3://bucket/key",
		"gs://bucket/object",
	} {
		_, err := f.FetchBytes(ctx, Request{URL: u, Path: "ignition.config.replace"}, 100)
		if !errors.Is(err, ErrNeedsNetwork) {
			t.Errorf("%s: got %v, want ErrNeedsNetwork", u, err)
		}
		var ferr *Error
		if !errors.As(err, &ferr) {
			t.Errorf("%s: %T is not an *Error", u, err)
		} else if ferr.Path != "ignition.config.replace" || ferr.URL != Redact(u) {
			t.Errorf("%s: error names %q %q", u, ferr.Path, ferr.URL)
		}
	}

	dir := t.TempDir()
	err = f.FetchToFile(ctx, Request{URL: srv.URL + "/file"}, filepath.Join(dir, "f"), FileOptions{})
	if !errors.Is(err, ErrNeedsNetwork) {
		t.Errorf("FetchToFile: got %v, want ErrNeedsNetwork", err)
	}
	if names := coreDir(t, dir); len(names) != 0 {
		t.Errorf("offline FetchToFile left %v behind", names)
	}
	if n := log.count(); n != 0 {
		t.Errorf("the server was contacted %d times in offline mode", n)
	}
}

func TestUnsupportedSchemeAndHash(t *testing.T) {
	f := coreFetcher(t, Options{})
	_, err := f.FetchBytes(coreCtx(t), Request{URL: "ftp://127.0.0.1/x"}, 100)
	if !errors.Is(err, ErrUnsupportedScheme) {
		t.Errorf("ftp: got %v, want ErrUnsupportedScheme", err)
	}
	_, err = f.FetchBytes(coreCtx(t), Request{URL: "data:,x", Hash: "md5-9dd4e461268c8034f5c8564e155c67a6"}, 100)
	if err == nil || !strings.Contains(err.Error(), "md5") {
		t.Errorf("md5: got %v, want an unsupported hash error", err)
	}
}

func TestHTTPVerifiesHash(t *testing.T) {
	data := coreBytes(300_000, 1)
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) { w.Write(data) })
	f := coreFetcher(t, Options{})
	for _, hash := range []string{coreSHA512(data), coreSHA256(data), ""} {
		t.Run(strings.Split(hash+"none-", "-")[0], func(t *testing.T) {
			dir := t.TempDir()
			dest := filepath.Join(dir, "file")
			if err := f.FetchToFile(coreCtx(t), Request{URL: srv.URL + "/file", Hash: hash}, dest, FileOptions{}); err != nil {
				t.Fatalf("FetchToFile: %v", err)
			}
			if got := coreReadFile(t, dest); !bytes.Equal(got, data) {
				t.Errorf("got %d bytes, want the %d served", len(got), len(data))
			}
			st, err := os.Stat(dest)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o644 {
				t.Errorf("default mode %v, want 0644", st.Mode().Perm())
			}
			if names := coreDir(t, dir); !slices.Equal(names, []string{"file"}) {
				t.Errorf("directory holds %v, want only the file", names)
			}
			got, err := f.FetchBytes(coreCtx(t), Request{URL: srv.URL + "/file", Hash: hash}, len(data))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("FetchBytes: %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestHashMismatchLeavesDestination(t *testing.T) {
	data := coreBytes(100_000, 2)
	other := coreBytes(100_000, 3)
	var log coreLog
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		w.Write(data)
	})
	f := coreFetcher(t, Options{})
	for _, c := range []struct{ wrong, got string }{
		{coreSHA512(other), coreSHA512(data)},
		{coreSHA256(other), coreSHA256(data)},
	} {
		t.Run(c.wrong[:6], func(t *testing.T) {
			dir := t.TempDir()
			dest := filepath.Join(dir, "existing")
			coreWriteFile(t, dest, []byte("old contents\n"), 0o600)
			before := log.count()
			err := f.FetchToFile(coreCtx(t), Request{URL: srv.URL + "/x", Hash: c.wrong, Path: "storage.files.0.contents"}, dest, FileOptions{Mode: 0o755})
			var mm *HashMismatchError
			if !errors.As(err, &mm) {
				t.Fatalf("got %v, want a *HashMismatchError", err)
			}
			if mm.Want != c.wrong || mm.Got != c.got {
				t.Errorf("mismatch says want %s got %s; want %s got %s", mm.Want, mm.Got, c.wrong, c.got)
			}
			if !strings.HasPrefix(err.Error(), "storage.files.0.contents: fetching ") {
				t.Errorf("error %q does not name the config path", err)
			}
			if n := log.count() - before; n != 1 {
				t.Errorf("a hash mismatch made %d requests, want 1 (it is final)", n)
			}
			if got := coreReadFile(t, dest); string(got) != "old contents\n" {
				t.Errorf("destination changed to %d bytes", len(got))
			}
			if st, err := os.Stat(dest); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("destination mode changed: %v %v", st.Mode(), err)
			}
			if names := coreDir(t, dir); !slices.Equal(names, []string{"existing"}) {
				t.Errorf("directory holds %v, want only the untouched destination", names)
			}
		})
	}
}

func TestGzip(t *testing.T) {
	data := coreBytes(200_000, 4)
	gz := coreGzip(t, data)
	var log coreLog
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		switch r.URL.Path {
		case "/gz":
			w.Write(gz)
		case "/encoded":
			// A server labelling the body: we must still see the raw bytes.
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz)
		case "/truncated":
			w.Write(gz[:len(gz)/2]) // a clean, complete response of half a stream
		case "/plain":
			w.Write(data)
		}
	})
	f := coreFetcher(t, Options{})

	t.Run("decompressed and hashed after decompression", func(t *testing.T) {
		for _, hash := range []string{coreSHA512(data), coreSHA256(data)} {
			got, err := f.FetchBytes(coreCtx(t), Request{URL: srv.URL + "/gz", Compression: "gzip", Hash: hash}, 1<<20)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s: %d bytes, %v", hash[:6], len(got), err)
			}
		}
		_, err := f.FetchBytes(coreCtx(t), Request{URL: srv.URL + "/gz", Compression: "gzip", Hash: coreSHA512(gz)}, 1<<20)
		var mm *HashMismatchError
		if !errors.As(err, &mm) {
			t.Errorf("hash of the compressed bytes: got %v, want a mismatch", err)
		}
	})

	t.Run("not decompressed unless asked", func(t *testing.T) {
		for _, p := range []string{"/gz", "/encoded"} {
			got, err := f.FetchBytes(coreCtx(t), Request{URL: srv.URL + p, Hash: coreSHA512(gz)}, 1<<20)
			if err != nil || !bytes.Equal(got, gz) {
				t.Errorf("%s: %d bytes, %v; want the %d raw gzip bytes", p, len(got), err, len(gz))
			}
		}
	})

	for _, c := range []struct{ name, path string }{
		{"truncated stream is final", "/truncated"},
		{"not gzip is final", "/plain"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			before := log.count()
			start := time.Now()
			err := f.FetchToFile(coreCtx(t), Request{URL: srv.URL + c.path, Compression: "gzip"}, filepath.Join(dir, "f"), FileOptions{})
			if err == nil {
				t.Fatal("fetch succeeded")
			}
			if c.path == "/truncated" && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("got %v, want an unexpected EOF from the decompressor", err)
			}
			if n := log.count() - before; n != 1 {
				t.Errorf("%d requests, want 1 (bad gzip is not worth retrying)", n)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
			if names := coreDir(t, dir); len(names) != 0 {
				t.Errorf("left %v behind", names)
			}
		})
	}
}

func TestStatusHandling(t *testing.T) {
	data := []byte("finally\n")
	cases := []struct {
		name        string
		statuses    []int
		retryStatus []int
		wantErr     string
		wantHits    int
	}{
		{"5xx then ok", []int{500, 503, 200}, nil, "", 3},
		{"404 is final", []int{404, 200}, nil, "404", 1},
		{"403 is final", []int{403, 200}, nil, "403", 1},
		{"404 retried when listed", []int{404, 404, 200}, []int{404}, "", 3},
		{"only listed codes retried", []int{410, 200}, []int{404}, "410", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var log coreLog
			srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
				n := log.add(r)
				st := c.statuses[min(n, len(c.statuses))-1]
				if st != http.StatusOK {
					http.Error(w, "not now", st)
					return
				}
				w.Write(data)
			})
			f := coreFetcher(t, Options{RetryStatus: c.retryStatus})
			dir := t.TempDir()
			dest := filepath.Join(dir, "f")
			err := f.FetchToFile(coreCtx(t), Request{URL: srv.URL + "/f", Path: "p"}, dest, FileOptions{})
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("FetchToFile: %v", err)
				}
				if got := coreReadFile(t, dest); !bytes.Equal(got, data) {
					t.Errorf("got %q", got)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want an error mentioning %s", err, c.wantErr)
				}
				want := fmt.Sprintf("p: fetching %s/f: server returned %d %s", srv.URL, c.statuses[0], http.StatusText(c.statuses[0]))
				if err.Error() != want {
					t.Errorf("error %q, want %q", err, want)
				}
				if names := coreDir(t, dir); len(names) != 0 {
					t.Errorf("left %v behind", names)
				}
			}
			if n := log.count(); n != c.wantHits {
				t.Errorf("%d requests, want %d", n, c.wantHits)
			}
		})
	}
}

func TestResumeWithRange(t *testing.T) {
	data := coreBytes(200_000, 5)
	gz := coreGzip(t, data)
	mod := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	cases := []struct {
		name        string
		body        []byte
		compression string
		setHeaders  func(http.Header)
		wantIfRange string
	}{
		{"etag", data, "", func(h http.Header) { h.Set("ETag", `"v1"`) }, `"v1"`},
		{"last-modified beside a weak etag", data, "", func(h http.Header) {
			h.Set("ETag", `W/"weak"`)
			h.Set("Last-Modified", mod.Format(http.TimeFormat))
		}, mod.Format(http.TimeFormat)},
		{"gzip stream", gz, "gzip", func(h http.Header) { h.Set("ETag", `"gz1"`) }, `"gz1"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			half := len(c.body) / 2
			var log coreLog
			srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
				n := log.add(r)
				w.Header().Set("Accept-Ranges", "bytes")
				c.setHeaders(w.Header())
				if n == 1 {
					coreCut(t, w, c.body, half)
					return
				}
				http.ServeContent(w, r, "", mod, bytes.NewReader(c.body))
			})
			f := coreFetcher(t, Options{})
			dir := t.TempDir()
			dest := filepath.Join(dir, "f")
			err := f.FetchToFile(coreCtx(t), Request{URL: srv.URL + "/obj", Compression: c.compression, Hash: coreSHA512(data)}, dest, FileOptions{})
			if err != nil {
				t.Fatalf("FetchToFile: %v", err)
			}
			if got := coreReadFile(t, dest); !bytes.Equal(got, data) {
				t.Errorf("got %d bytes, want the %d served", len(got), len(data))
			}
			seen := log.all()
			if len(seen) != 2 {
				t.Fatalf("%d requests, want 2 (one broken, one resumed)", len(seen))
			}
			if rg := seen[0].Header.Get("Range"); rg != "" {
				t.Errorf("first request asked for range %q", rg)
			}
			if rg, want := seen[1].Header.Get("Range"), fmt.Sprintf("bytes=%d-", half); rg != want {
				t.Errorf("resume asked for Range %q, want %q", rg, want)
			}
			if ir := seen[1].Header.Get("If-Range"); ir != c.wantIfRange {
				t.Errorf("resume sent If-Range %q, want %q", ir, c.wantIfRange)
			}
			if names := coreDir(t, dir); !slices.Equal(names, []string{"f"}) {
				t.Errorf("directory holds %v", names)
			}
		})
	}
}

func TestRestartWithoutRanges(t *testing.T) {
	data := coreBytes(150_000, 6)
	cases := []struct {
		name       string
		setHeaders func(http.Header)
	}{
		{"no range support", func(http.Header) {}},
		{"ranges without a validator", func(h http.Header) { h.Set("Accept-Ranges", "bytes") }},
		{"ranges with only a weak etag", func(h http.Header) {
			h.Set("Accept-Ranges", "bytes")
			h.Set("ETag", `W/"weak"`)
		}},
		{"validator without ranges", func(h http.Header) { h.Set("ETag", `"v1"`) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var log coreLog
			srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
				n := log.add(r)
				c.setHeaders(w.Header())
				if n == 1 {
					coreCut(t, w, data, len(data)/2)
					return
				}
				if r.Header.Get("Range") != "" {
					http.Error(w, "no ranges here", http.StatusBadRequest)
					return
				}
				w.Write(data)
			})
			f := coreFetcher(t, Options{})
			dir := t.TempDir()
			dest := filepath.Join(dir, "f")
			if err := f.FetchToFile(coreCtx(t), Request{URL: srv.URL + "/obj"}, dest, FileOptions{}); err != nil {
				t.Fatalf("FetchToFile: %v", err)
			}
			// No hash: only a rewound sink gives exactly the served bytes.
			if got := coreReadFile(t, dest); !bytes.Equal(got, data) {
				t.Errorf("got %d bytes, want exactly the %d served", len(got), len(data))
			}
			seen := log.all()
			if len(seen) != 2 {
				t.Fatalf("%d requests, want 2", len(seen))
			}
			if rg := seen[1].Header.Get("Range"); rg != "" {
				t.Errorf("restart asked for range %q", rg)
			}
		})
	}
}

func TestResumeRefusedRestarts(t *testing.T) {
	v1 := coreBytes(120_000, 7)
	v2 := coreBytes(110_000, 8)
	t.Run("object changed: 200 to a Range request", func(t *testing.T) {
		var log coreLog
		srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
			n := log.add(r)
			w.Header().Set("Accept-Ranges", "bytes")
			if n == 1 {
				w.Header().Set("ETag", `"v1"`)
				coreCut(t, w, v1, len(v1)/2)
				return
			}
			// The object is now v2: If-Range "v1" fails, so ServeContent
			// answers the whole of v2 with 200.
			w.Header().Set("ETag", `"v2"`)
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(v2))
		})
		f := coreFetcher(t, Options{})
		got, err := f.FetchBytes(coreCtx(t), Request{URL: srv.URL + "/obj"}, 1<<20)
		if err != nil {
			t.Fatalf("FetchBytes: %v", err)
		}
		if !bytes.Equal(got, v2) {
			t.Errorf("got %d bytes, want exactly v2's %d", len(got), len(v2))
		}
		seen := log.all()
		if len(seen) < 2 || seen[1].Header.Get("Range") == "" {
			t.Fatalf("no resume was tried: %d requests", len(seen))
		}
		if last := seen[len(seen)-1]; last.Header.Get("Range") != "" {
			t.Errorf("last request asked for range %q, want a full restart", last.Header.Get("Range"))
		}
	})

	t.Run("wrong Content-Range", func(t *testing.T) {
		var log coreLog
		srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
			n := log.add(r)
			w.Header().Set("Accept-Ranges", "bytes")
			w.Header().Set("ETag", `"v1"`)
			switch {
			case n == 1:
				coreCut(t, w, v1, len(v1)/2)
			case r.Header.Get("Range") != "":
				// 206, but from the start: appending it would duplicate bytes.
				w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(v1)-1, len(v1)))
				w.WriteHeader(http.StatusPartialContent)
				w.Write(v1)
			default:
				w.Write(v1)
			}
		})
		f := coreFetcher(t, Options{})
		dest := filepath.Join(t.TempDir(), "f")
		if err := f.FetchToFile(coreCtx(t), Request{URL: srv.URL + "/obj"}, dest, FileOptions{}); err != nil {
			t.Fatalf("FetchToFile: %v", err)
		}
		if got := coreReadFile(t, dest); !bytes.Equal(got, v1) {
			t.Errorf("got %d bytes, want exactly the %d served", len(got), len(v1))
		}
		if n := log.count(); n != 3 {
			t.Errorf("%d requests, want 3 (broken, refused resume, restart)", n)
		}
	})
}

// coreBrokenScheme serves data through bodies that, on the first open,
// break off like net/http's do: the last bytes come with the error, and
// every read after that reports a clean io.EOF.
type coreBrokenScheme struct {
	data  []byte
	opens atomic.Int32
}

type coreBrokenBody struct {
	data   []byte
	broken bool
}

func (b *coreBrokenBody) Read(p []byte) (int, error) {
	if b.broken {
		return 0, io.EOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	if len(b.data) < len(p) {
		// Still short of the whole: this is where the connection died.
		b.broken = true
		return n, io.ErrUnexpectedEOF
	}
	return n, nil
}

func (s *coreBrokenScheme) open(context.Context, *Request, *url.URL) (body, error) {
	if s.opens.Add(1) == 1 {
		return body{ReadCloser: io.NopCloser(&coreBrokenBody{data: s.data[:len(s.data)/2]})}, nil
	}
	return body{ReadCloser: io.NopCloser(bytes.NewReader(s.data))}, nil
}

func TestSourceErrorWithLastBytesIsNotLost(t *testing.T) {
	data := coreBytes(10_000, 9)
	f := coreFetcher(t, Options{})
	s := &coreBrokenScheme{data: data}
	f.schemes["broken"] = s
	got, err := f.FetchBytes(coreCtx(t), Request{URL: "broken://x/y"}, 1<<20)
	if err != nil {
		t.Fatalf("FetchBytes: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("got %d bytes, want all %d: a broken body was taken for a complete one", len(got), len(data))
	}
	if n := s.opens.Load(); n != 2 {
		t.Errorf("%d opens, want 2", n)
	}
}

func TestFileSinkAppendsOnceAfterRestart(t *testing.T) {
	fragment := coreBytes(80_000, 10)
	var log coreLog
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		if log.add(r) == 1 {
			coreCut(t, w, fragment, len(fragment)/2)
			return
		}
		w.Write(fragment)
	})
	f := coreFetcher(t, Options{})
	path := filepath.Join(t.TempDir(), "built")
	prefix := []byte("existing content\n")
	coreWriteFile(t, path, prefix, 0o644)

	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := file.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	sink, err := NewFileSink(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Fetch(coreCtx(t), Request{URL: srv.URL + "/fragment", Hash: coreSHA512(fragment)}, sink); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if n := log.count(); n != 2 {
		t.Errorf("%d requests, want 2 (the first broke off)", n)
	}
	want := append(slices.Clone(prefix), fragment...)
	if got := coreReadFile(t, path); !bytes.Equal(got, want) {
		t.Errorf("file is %d bytes, want %d: prefix then the fragment once", len(got), len(want))
	}
}

func TestFileSinkRewind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	coreWriteFile(t, path, []byte("keep:"), 0o644)
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	file.Seek(0, io.SeekEnd)
	sink, err := NewFileSink(file)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(sink, "first attempt, longer than the second")
	if err := sink.Rewind(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(sink, "second")
	if got := coreReadFile(t, path); string(got) != "keep:second" {
		t.Errorf("got %q", got)
	}
}

func TestFetchBytesLimit(t *testing.T) {
	data := coreBytes(1000, 11)
	zeros := coreGzip(t, make([]byte, 1<<20))
	var log coreLog
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		if r.URL.Path == "/zeros.gz" {
			w.Write(zeros)
			return
		}
		w.Write(data)
	})
	f := coreFetcher(t, Options{})
	ctx := coreCtx(t)

	if got, err := f.FetchBytes(ctx, Request{URL: srv.URL + "/d"}, len(data)); err != nil || !bytes.Equal(got, data) {
		t.Errorf("at the limit: %d bytes, %v", len(got), err)
	}
	before := log.count()
	if _, err := f.FetchBytes(ctx, Request{URL: srv.URL + "/d"}, len(data)-1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("one byte over: got %v, want ErrTooLarge", err)
	}
	// The limit is on decompressed bytes, however small the download.
	if _, err := f.FetchBytes(ctx, Request{URL: srv.URL + "/zeros.gz", Compression: "gzip"}, 64<<10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("gzip bomb: got %v, want ErrTooLarge", err)
	}
	if n := log.count() - before; n != 2 {
		t.Errorf("%d requests for two oversized fetches, want 2 (too large is final)", n)
	}
}

func TestTotalTimeoutGivesUp(t *testing.T) {
	var log coreLog
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	// Attempts take 100 ms and back-offs 5 ms: the total runs out while the
	// fourth attempt waits for headers.
	const total = 350 * time.Millisecond
	f := coreFetcher(t, Options{ResponseHeaderTimeout: 100 * time.Millisecond, Total: total, RetryMin: 5 * time.Millisecond, RetryMax: 5 * time.Millisecond})
	start := time.Now()
	_, err := f.FetchBytes(coreCtx(t), Request{URL: srv.URL + "/slow"}, 100)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("fetch from a server that never answers succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "gave up") || !strings.Contains(msg, "timeout") {
		t.Errorf("error %q should say it gave up, and why (the header timeout)", msg)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q does not wrap context.DeadlineExceeded", msg)
	}
	if n := log.count(); n < 3 {
		t.Errorf("%d requests, want the header timeout retried until the total ran out", n)
	}
	if elapsed < total-50*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("took %v with a total of %v", elapsed, total)
	}
}

func TestOptionsFor(t *testing.T) {
	ptr := func(i int) *int { return &i }
	sptr := func(s string) *string { return &s }
	proxy := types.Proxy{HTTPProxy: sptr("http://proxy.invalid:3128"), NoProxy: []string{"10.0.0.0/8"}}
	cases := []struct {
		name       string
		timeouts   types.Timeouts
		wantHeader time.Duration // in Options
		wantTransp time.Duration // on the transport New builds
		wantTotal  time.Duration
	}{
		{"unset", types.Timeouts{}, 0, 10 * time.Second, 0},
		{"set", types.Timeouts{HTTPResponseHeaders: ptr(7), HTTPTotal: ptr(30)}, 7 * time.Second, 7 * time.Second, 30 * time.Second},
		{"explicit zero is unlimited", types.Timeouts{HTTPResponseHeaders: ptr(0), HTTPTotal: ptr(0)}, -1, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := OptionsFor(types.Ignition{Timeouts: c.timeouts, Proxy: proxy})
			if c.wantHeader < 0 {
				if o.ResponseHeaderTimeout >= 0 {
					t.Errorf("ResponseHeaderTimeout %v, want negative (unlimited)", o.ResponseHeaderTimeout)
				}
			} else if o.ResponseHeaderTimeout != c.wantHeader {
				t.Errorf("ResponseHeaderTimeout %v, want %v", o.ResponseHeaderTimeout, c.wantHeader)
			}
			if o.Total != c.wantTotal {
				t.Errorf("Total %v, want %v", o.Total, c.wantTotal)
			}
			if o.Proxy.HTTPProxy == nil || *o.Proxy.HTTPProxy != "http://proxy.invalid:3128" || !slices.Equal(o.Proxy.NoProxy, proxy.NoProxy) {
				t.Errorf("proxy not carried over: %+v", o.Proxy)
			}
			f, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			if got := coreTransport(f).ResponseHeaderTimeout; got != c.wantTransp {
				t.Errorf("transport ResponseHeaderTimeout %v, want %v", got, c.wantTransp)
			}
		})
	}
}

func TestTotalTimeoutWhileRetrying5xx(t *testing.T) {
	var log coreLog
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		http.Error(w, "warming up", http.StatusServiceUnavailable)
	})
	f := coreFetcher(t, Options{Total: 200 * time.Millisecond})
	start := time.Now()
	_, err := f.FetchBytes(coreCtx(t), Request{URL: srv.URL + "/cfg"}, 100)
	if err == nil {
		t.Fatal("fetch from a server answering 503 succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "503") || !strings.Contains(msg, "gave up") {
		t.Errorf("error %q should give the last status and say it gave up", msg)
	}
	// Callers can tell a fetch that ran out of time.
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q does not wrap context.DeadlineExceeded", err)
	}
	if IsRetryable(err) {
		t.Errorf("final error %q is still marked retryable", err)
	}
	if n := log.count(); n < 3 {
		t.Errorf("%d requests in 200 ms with 5-20 ms back-off", n)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
}
