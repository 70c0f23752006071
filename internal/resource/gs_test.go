package resource

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// gcsSeen is one request the fake Cloud Storage received.
type gcsSeen struct {
	escapedPath string
	query       url.Values
	header      http.Header
}

// fakeGCS serves objects through the JSON API's media download:
// GET /storage/v1/b/<bucket>/o/<escaped object>?alt=media.
type fakeGCS struct {
	srv *httptest.Server

	mu      sync.Mutex
	objects map[string][]byte // "bucket/object" → bytes
	// requireToken, when set, refuses requests without that bearer token.
	requireToken string
	// failures are statuses to answer with first, in order.
	failures []int
	cutAt    int // > 0: cut the first full download after that many bytes
	cut      bool
	seen     []gcsSeen
}

func newFakeGCS(t *testing.T) *fakeGCS {
	fg := &fakeGCS{objects: map[string][]byte{}}
	fg.srv = httptest.NewServer(http.HandlerFunc(fg.serve))
	t.Cleanup(fg.srv.Close)
	return fg
}

func (fg *fakeGCS) set(change func(fg *fakeGCS)) {
	fg.mu.Lock()
	defer fg.mu.Unlock()
	change(fg)
}

func (fg *fakeGCS) serve(w http.ResponseWriter, r *http.Request) {
	fg.mu.Lock()
	fg.seen = append(fg.seen, gcsSeen{escapedPath: r.URL.EscapedPath(), query: r.URL.Query(), header: r.Header.Clone()})
	var fail int
	if len(fg.failures) > 0 {
		fail, fg.failures = fg.failures[0], fg.failures[1:]
	}
	need := fg.requireToken
	cutAt := fg.cutAt
	cut := cutAt > 0 && !fg.cut && r.Header.Get("Range") == ""
	if cut {
		fg.cut = true
	}
	fg.mu.Unlock()

	if fail != 0 {
		http.Error(w, `{"error":{"code":`+strconv.Itoa(fail)+`}}`, fail)
		return
	}
	if need != "" && r.Header.Get("Authorization") != "Bearer "+need {
		http.Error(w, `{"error":{"code":401,"message":"Anonymous caller does not have storage.objects.get access"}}`, http.StatusUnauthorized)
		return
	}
	// The object name is one escaped path segment: a "/" in it is %2F.
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/storage/v1/b/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 || parts[1] != "o" || r.URL.Query().Get("alt") != "media" {
		http.Error(w, "bad request path "+r.URL.EscapedPath(), http.StatusBadRequest)
		return
	}
	bucket, err1 := url.PathUnescape(parts[0])
	object, err2 := url.PathUnescape(parts[2])
	if err1 != nil || err2 != nil {
		http.Error(w, "bad escaping", http.StatusBadRequest)
		return
	}
	fg.mu.Lock()
	data, ok := fg.objects[bucket+"/"+object]
	fg.mu.Unlock()
	if !ok {
		http.Error(w, `{"error":{"code":404,"message":"No such object"}}`, http.StatusNotFound)
		return
	}
	w.Header().Set("ETag", etagOf(data))
	if cut {
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:cutAt])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func (fg *fakeGCS) requests() []gcsSeen {
	fg.mu.Lock()
	defer fg.mu.Unlock()
	return append([]gcsSeen(nil), fg.seen...)
}

// fakeGCEMetadata serves the default service account's token.
type fakeGCEMetadata struct {
	srv *httptest.Server

	mu sync.Mutex
	// tokens are handed out in turn (the last one repeats); none: 404,
	// no default service account.
	tokens    []string
	expiresIn int
	// failUntil: answer 500 until then.
	failUntil time.Time
	calls     int
	flavors   []string // Metadata-Flavor of each request
}

func newFakeGCEMetadata(t *testing.T, expiresIn int, tokens ...string) *fakeGCEMetadata {
	fm := &fakeGCEMetadata{tokens: tokens, expiresIn: expiresIn}
	fm.srv = httptest.NewServer(http.HandlerFunc(fm.serve))
	t.Cleanup(fm.srv.Close)
	return fm
}

func (fm *fakeGCEMetadata) host() string { return strings.TrimPrefix(fm.srv.URL, "http://") }

func (fm *fakeGCEMetadata) serve(w http.ResponseWriter, r *http.Request) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	w.Header().Set("Metadata-Flavor", "Google")
	if r.URL.Path != "/computeMetadata/v1/instance/service-accounts/default/token" {
		http.NotFound(w, r)
		return
	}
	fm.calls++
	fm.flavors = append(fm.flavors, r.Header.Get("Metadata-Flavor"))
	switch {
	case r.Header.Get("Metadata-Flavor") != "Google":
		http.Error(w, "Missing Metadata-Flavor:Google header", http.StatusForbidden)
	case time.Now().Before(fm.failUntil):
		http.Error(w, "try later", http.StatusInternalServerError)
	case len(fm.tokens) == 0:
		http.NotFound(w, r)
	default:
		tok := fm.tokens[0]
		if len(fm.tokens) > 1 {
			fm.tokens = fm.tokens[1:]
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": fm.expiresIn, "token_type": "Bearer"})
	}
}

func (fm *fakeGCEMetadata) stats() (calls int, flavors []string) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	return fm.calls, append([]string(nil), fm.flavors...)
}

func newGCSTestFetcher(t *testing.T, gcsURL, metadataHost string) *Fetcher {
	t.Helper()
	f, err := New(Options{
		RetryMin:  5 * time.Millisecond,
		RetryMax:  20 * time.Millisecond,
		Endpoints: Endpoints{GCS: gcsURL, GCEMetadata: metadataHost},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestGCSAnonymousFetch(t *testing.T) {
	fg := newFakeGCS(t)
	fm := newFakeGCEMetadata(t, 3600) // on GCE, no default service account
	data := cloudRandom(100_000, 10)
	fg.set(func(fg *fakeGCS) { fg.objects["my-bucket"+"/"+"dir/my config+1 (copy).ign"] = data })
	f := newGCSTestFetcher(t, fg.srv.URL, fm.host())
	ctx := s3TestContext(t)

	for range 2 {
		got, err := f.FetchBytes(ctx, Request{URL: "gs://my-bucket/dir/my%20config+1%20(copy).ign", Hash: cloudSHA512(data)}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("bytes differ")
		}
	}
	reqs := fg.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d GCS requests, want 2", len(reqs))
	}
	const want = "/storage/v1/b/my-bucket/o/dir%2Fmy%20config%2B1%20%28copy%29.ign"
	if reqs[0].escapedPath != want || reqs[0].query.Get("alt") != "media" {
		t.Errorf("requested %s?%s, want %s?alt=media", reqs[0].escapedPath, reqs[0].query.Encode(), want)
	}
	for _, r := range reqs {
		if a := r.header.Get("Authorization"); a != "" {
			t.Errorf("anonymous request carries Authorization %q", a)
		}
	}
	if calls, _ := fm.stats(); calls != 1 {
		t.Errorf("metadata server asked %d times, want 1 (decision cached)", calls)
	}
}

func TestGCSBearerToken(t *testing.T) {
	fg := newFakeGCS(t)
	fm := newFakeGCEMetadata(t, 3599, "ya29.test-token")
	fg.set(func(fg *fakeGCS) {
		fg.objects["private/config.ign"] = []byte("secret config")
		fg.requireToken = "ya29.test-token"
	})
	f := newGCSTestFetcher(t, fg.srv.URL, fm.host())
	ctx := s3TestContext(t)

	for range 2 {
		got, err := f.FetchBytes(ctx, Request{URL: "gs://private/config.ign"}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "secret config" {
			t.Fatalf("got %q", got)
		}
	}
	for _, r := range fg.requests() {
		if a := r.header.Get("Authorization"); a != "Bearer ya29.test-token" {
			t.Errorf("Authorization %q", a)
		}
	}
	calls, flavors := fm.stats()
	if calls != 1 {
		t.Errorf("token asked for %d times, want 1 (cached)", calls)
	}
	for _, fl := range flavors {
		if fl != "Google" {
			t.Errorf("metadata request with Metadata-Flavor %q", fl)
		}
	}
}

func TestGCSTokenRenewedBeforeExpiry(t *testing.T) {
	// A token with less than the margin left is not reused.
	fg := newFakeGCS(t)
	fm := newFakeGCEMetadata(t, 60, "token-1", "token-2")
	fg.set(func(fg *fakeGCS) { fg.objects["b/o"] = []byte("x") })
	f := newGCSTestFetcher(t, fg.srv.URL, fm.host())
	ctx := s3TestContext(t)
	for range 2 {
		if _, err := f.FetchBytes(ctx, Request{URL: "gs://b/o"}, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	reqs := fg.requests()
	if len(reqs) != 2 || reqs[0].header.Get("Authorization") != "Bearer token-1" || reqs[1].header.Get("Authorization") != "Bearer token-2" {
		t.Errorf("want token-1 then token-2, got %d requests", len(reqs))
		for _, r := range reqs {
			t.Log(r.header.Get("Authorization"))
		}
	}
	if calls, _ := fm.stats(); calls != 2 {
		t.Errorf("token asked for %d times, want 2", calls)
	}
}

func TestGCSNotFoundIsFinal(t *testing.T) {
	fg := newFakeGCS(t)
	fm := newFakeGCEMetadata(t, 3600)
	f := newGCSTestFetcher(t, fg.srv.URL, fm.host())
	_, err := f.FetchBytes(s3TestContext(t), Request{URL: "gs://b/missing"}, 1<<20)
	if err == nil || IsRetryable(err) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("got %v, want a final 404", err)
	}
	if n := len(fg.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestGCSServerErrorsRetried(t *testing.T) {
	fg := newFakeGCS(t)
	fm := newFakeGCEMetadata(t, 3600)
	data := []byte("after a while")
	fg.set(func(fg *fakeGCS) {
		fg.objects["b/o"] = data
		fg.failures = []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusInternalServerError}
	})
	f := newGCSTestFetcher(t, fg.srv.URL, fm.host())
	got, err := f.FetchBytes(s3TestContext(t), Request{URL: "gs://b/o", Hash: cloudSHA512(data)}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %q", got)
	}
	if n := len(fg.requests()); n != 4 {
		t.Errorf("%d requests, want 4 (503, 429, 500, then 200)", n)
	}
}

func TestGCSResumesWithToken(t *testing.T) {
	fg := newFakeGCS(t)
	fm := newFakeGCEMetadata(t, 3600, "tok")
	data := cloudRandom(600_000, 11)
	fg.set(func(fg *fakeGCS) {
		fg.objects["b/big"] = data
		fg.requireToken = "tok"
		fg.cutAt = 200_000
	})
	f := newGCSTestFetcher(t, fg.srv.URL, fm.host())
	got, err := f.FetchBytes(s3TestContext(t), Request{URL: "gs://b/big", Hash: cloudSHA512(data)}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
	reqs := fg.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (cut, resumed)", len(reqs))
	}
	if rg := reqs[1].header.Get("Range"); rg != "bytes=200000-" {
		t.Errorf("resumed with Range %q", rg)
	}
	if a := reqs[1].header.Get("Authorization"); a != "Bearer tok" {
		t.Errorf("resumed with Authorization %q", a)
	}
}

func TestGCSMetadataServerHiccupIsNotAnonymous(t *testing.T) {
	// The metadata server answers (as Google) but fails for a while, longer
	// than the probe: the fetch waits for a token rather than deciding
	// there is no service account.
	fg := newFakeGCS(t)
	fm := newFakeGCEMetadata(t, 3600, "late-token")
	fm.mu.Lock()
	fm.failUntil = time.Now().Add(600 * time.Millisecond)
	fm.mu.Unlock()
	fg.set(func(fg *fakeGCS) {
		fg.objects["b/o"] = []byte("ok")
		fg.requireToken = "late-token"
	})
	f := newGCSTestFetcher(t, fg.srv.URL, fm.host())
	f.schemes["gs"].(*gsScheme).probeTimeout = 150 * time.Millisecond
	got, err := f.FetchBytes(s3TestContext(t), Request{URL: "gs://b/o"}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "ok" {
		t.Fatalf("got %q", got)
	}
	if calls, _ := fm.stats(); calls < 2 {
		t.Errorf("metadata asked %d times; the failures were not exercised", calls)
	}
}

func TestGCSNoMetadataServerDoesNotHang(t *testing.T) {
	// A metadata address that accepts and never answers: anonymous after
	// the probe timeout, and the decision is kept.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()

	fg := newFakeGCS(t)
	fg.set(func(fg *fakeGCS) { fg.objects["b/o"] = []byte("public") })
	f := newGCSTestFetcher(t, fg.srv.URL, ln.Addr().String())
	f.schemes["gs"].(*gsScheme).probeTimeout = 300 * time.Millisecond
	ctx := s3TestContext(t)
	start := time.Now()
	for range 2 {
		got, err := f.FetchBytes(ctx, Request{URL: "gs://b/o"}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "public" {
			t.Fatalf("got %q", got)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("two fetches took %v with a silent metadata server", d)
	}
	mu.Lock()
	n := len(conns)
	mu.Unlock()
	if n != 1 {
		t.Errorf("%d connections to the metadata address, want 1 (decision cached)", n)
	}
	for _, r := range fg.requests() {
		if r.header.Get("Authorization") != "" {
			t.Error("request carries Authorization")
		}
	}
}

func TestGCSMalformedURLs(t *testing.T) {
	fg := newFakeGCS(t)
	fm := newFakeGCEMetadata(t, 3600)
	f := newGCSTestFetcher(t, fg.srv.URL, fm.host())
	for _, raw := range []string{"gs://bucket", "gs://bucket/", "gs:///object", "gs:bucket/object", "gs://user@bucket/o"} {
		_, err := f.FetchBytes(s3TestContext(t), Request{URL: raw}, 1<<20)
		if err == nil || IsRetryable(err) {
			t.Errorf("%s: got %v, want a final error", raw, err)
		}
	}
	if n := len(fg.requests()); n != 0 {
		t.Errorf("%d requests for malformed URLs", n)
	}
}

func TestGCSEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain-name_1.~x": "plain-name_1.~x",
		"a/b c":           "a%2Fb%20c",
		"100%+?#&=é":      "100%25%2B%3F%23%26%3D%C3%A9",
	} {
		if got := gcsEscape(in); got != want {
			t.Errorf("gcsEscape(%q) = %q, want %q", in, got, want)
		}
	}
}
