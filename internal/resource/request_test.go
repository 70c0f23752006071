package resource

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/config/types"
)

func TestRedact(t *testing.T) {
	cases := []struct {
		raw      string
		want     string   // exact result, when given
		contains []string // otherwise: must appear
		hidden   []string // must never appear
	}{
		{raw: "https://example.com/dir/file.ign", want: "https://example.com/dir/file.ign"},
		{raw: "s3://bucket/key/path", want: "s3://bucket/key/path"},
		{raw: "https://alice:hunter2@example.com/x", contains: []string{"example.com/x"}, hidden: []string{"alice", "hunter2"}},
		{raw: "https://tokenonly@example.com:8443/x", contains: []string{"example.com:8443/x"}, hidden: []string{"tokenonly"}},
		{raw: "https://example.com/x?sig=abc123&se=2030-01-01", contains: []string{"example.com/x?", "sig=REDACTED", "se=REDACTED"}, hidden: []string{"abc123", "2030"}},
		{raw: "https://example.com/x?a=1&a=2", contains: []string{"a=REDACTED"}, hidden: []string{"a=1", "a=2"}},
		{raw: "data:,top%20secret", hidden: []string{"top", "secret"}, contains: []string{"data URL"}},
		{raw: "DATA:text/plain;base64,c2VjcmV0", hidden: []string{"c2VjcmV0", "text/plain"}, contains: []string{"data URL"}},
		{raw: "http://[::1", want: "unparsable URL"},
		{raw: "http://u:p@[::1/?key=val", want: "unparsable URL"},
	}
	for _, c := range cases {
		got := Redact(c.raw)
		if c.want != "" && got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.raw, got, c.want)
		}
		for _, s := range c.contains {
			if !strings.Contains(got, s) {
				t.Errorf("Redact(%q) = %q, want it to contain %q", c.raw, got, s)
			}
		}
		for _, s := range c.hidden {
			if strings.Contains(got, s) {
				t.Errorf("Redact(%q) = %q shows %q", c.raw, got, s)
			}
		}
		if u, err := url.Parse(got); err == nil && u.User != nil {
			if _, hasPass := u.User.Password(); hasPass {
				t.Errorf("Redact(%q) = %q keeps a password", c.raw, got)
			}
		}
	}
}

func TestErrorFormat(t *testing.T) {
	cause := errors.New("connection refused")
	e := &Error{Path: "storage.files.3.contents", URL: "https://example.com/f", Err: cause}
	if got, want := e.Error(), "storage.files.3.contents: fetching https://example.com/f: connection refused"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e.Path = ""
	if got, want := e.Error(), "fetching https://example.com/f: connection refused"; got != want {
		t.Errorf("without a path: Error() = %q, want %q", got, want)
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", e), cause) {
		t.Error("Error does not unwrap to its cause")
	}

	// A real fetch: the URL in the message is the redacted one.
	f := coreFetcher(t, Options{Offline: true})
	raw := "https://bob:pw@example.invalid/c?token=abc"
	_, err := f.FetchBytes(coreCtx(t), Request{URL: raw, Path: "ignition.config.merge.0"}, 10)
	want := "ignition.config.merge.0: fetching " + Redact(raw) + ": " + ErrNeedsNetwork.Error()
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestRetryable(t *testing.T) {
	base := errors.New("reset")
	if Retryable(nil) != nil {
		t.Error("Retryable(nil) is not nil")
	}
	r := Retryable(base)
	if !IsRetryable(r) || !IsRetryable(fmt.Errorf("ctx: %w", r)) {
		t.Error("a Retryable error is not retryable")
	}
	if IsRetryable(base) {
		t.Error("a plain error is retryable")
	}
	if !errors.Is(r, base) || r.Error() != "reset" {
		t.Errorf("Retryable hides its error: %v", r)
	}
}

func TestFromResource(t *testing.T) {
	s := func(v string) *string { return &v }
	r := types.Resource{
		Source:       s("https://example.com/f"),
		Compression:  s("gzip"),
		Verification: types.Verification{Hash: s("sha512-00")},
		HTTPHeaders: []types.HTTPHeader{
			{Name: "X-A", Value: s("1")},
			{Name: "X-Removed"}, // no value: only deletes a parent's header
			{Name: "X-A", Value: s("2")},
			{Name: "Authorization", Value: s("Bearer t")},
		},
	}
	got := FromResource(r, "storage.files.0.contents")
	want := Request{
		URL:         "https://example.com/f",
		Compression: "gzip",
		Hash:        "sha512-00",
		Path:        "storage.files.0.contents",
		Headers:     http.Header{"X-A": {"1", "2"}, "Authorization": {"Bearer t"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromResource = %+v, want %+v", got, want)
	}

	got = FromResource(types.Resource{HTTPHeaders: []types.HTTPHeader{{Name: "X-Removed"}}}, "p")
	if !reflect.DeepEqual(got, Request{Path: "p"}) {
		t.Errorf("empty resource: %+v", got)
	}
}

func TestRequestKey(t *testing.T) {
	names := make([]string, 20)
	for i := range names {
		names[i] = fmt.Sprintf("X-H%02d", i)
	}
	build := func(reverse bool) Request {
		h := http.Header{}
		for i := range names {
			n := names[i]
			if reverse {
				n = names[len(names)-1-i]
			}
			h[n] = []string{"v-" + n}
		}
		return Request{URL: "https://example.com/f", Hash: "sha512-aa", Compression: "gzip", Headers: h}
	}
	base := build(false)
	k := base.key()
	for i := range 20 {
		r := build(i%2 == 1)
		if r.key() != k {
			t.Fatalf("identical requests have different keys:\n%s\n%s", r.key(), k)
		}
	}
	same := build(true)
	same.Accept, same.Path = "application/json", "somewhere.else"
	if same.key() != k {
		t.Error("Accept or Path changed the key")
	}

	variants := map[string]func(*Request){
		"url":          func(r *Request) { r.URL += "?x" },
		"hash":         func(r *Request) { r.Hash = "sha512-bb" },
		"no hash":      func(r *Request) { r.Hash = "" },
		"compression":  func(r *Request) { r.Compression = "" },
		"header value": func(r *Request) { r.Headers["X-H03"] = []string{"other"} },
		"extra value":  func(r *Request) { r.Headers["X-H03"] = append(r.Headers["X-H03"], "more") },
		"extra header": func(r *Request) { r.Headers["X-New"] = []string{"v"} },
		"no header":    func(r *Request) { delete(r.Headers, "X-H07") },
	}
	for name, change := range variants {
		r := build(false)
		change(&r)
		if r.key() == k {
			t.Errorf("%s: key unchanged", name)
		}
	}

	// Quoting keeps fields apart: moving text between them changes the key.
	a := Request{URL: `u" "h`, Hash: ""}
	b := Request{URL: "u", Hash: "h"}
	if a.key() == b.key() {
		t.Error("different requests share a key")
	}
}
