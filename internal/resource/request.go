// Package resource fetches everything a config can name: configs, CA
// bundles, file contents, appended fragments and key files. Every byte
// that comes from outside the machine goes through a Fetcher.
//
// A fetch is a pipeline: the scheme's source (http, https, tftp, s3, arn,
// gs, data) → gzip decompression when asked → hash verification over the
// decompressed bytes → a sink (a temp file beside the target, or a bounded
// buffer for configs). Sources are retried with back-off and, where the
// server allows it, resumed where they broke off. Nothing is held in memory
// whole, and a failed fetch leaves no file behind.
package resource

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ignition-go/ignition/config/types"
)

// Request is one resource to fetch.
type Request struct {
	// URL of the resource, in any scheme the config allows.
	URL string
	// Headers are sent with http(s) requests, over the defaults.
	Headers http.Header
	// Hash is "sha512-<hex>" or "sha256-<hex>" over the decompressed
	// bytes; empty for none.
	Hash string
	// Compression is "" or "gzip".
	Compression string
	// Accept, when set, is sent as the Accept header (configs ask for
	// Ignition JSON).
	Accept string
	// Path is where the resource is named in the config, for errors:
	// "storage.files.12.contents".
	Path string
	// Method is the HTTP method for http(s) URLs; "" means GET. Only
	// providers set it (metadata services that hand out a session token
	// on PUT); configs always GET.
	Method string
}

// FromResource builds the request for a config resource found at path.
// Headers without a value are skipped: in a merged config they only
// delete a parent's header.
func FromResource(r types.Resource, path string) Request {
	req := Request{Path: path}
	if r.Source != nil {
		req.URL = *r.Source
	}
	if r.Compression != nil {
		req.Compression = *r.Compression
	}
	if r.Verification.Hash != nil {
		req.Hash = *r.Verification.Hash
	}
	for _, h := range r.HTTPHeaders {
		if h.Value == nil {
			continue
		}
		if req.Headers == nil {
			req.Headers = http.Header{}
		}
		req.Headers.Add(h.Name, *h.Value)
	}
	return req
}

// key identifies requests that fetch the same bytes: same URL, hash,
// compression and headers. Accept is left out because it only asks the
// server for a representation, and a hash pins the bytes anyway.
func (r *Request) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q %q %q %q", r.Method, r.URL, r.Hash, r.Compression)
	names := make([]string, 0, len(r.Headers))
	for name := range r.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, " %q=%q", name, r.Headers[name])
	}
	return b.String()
}

// Redact returns a URL safe to log: no user info, no query values, and
// never the contents of a data URL.
func Redact(raw string) string {
	if len(raw) >= 5 && strings.EqualFold(raw[:5], "data:") {
		return fmt.Sprintf("data URL (%d bytes)", len(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "unparsable URL"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Error is a failed fetch: which resource, from where, and why.
type Error struct {
	Path string // config path, may be empty
	URL  string // redacted
	Err  error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("fetching %s: %v", e.URL, e.Err)
	}
	return fmt.Sprintf("%s: fetching %s: %v", e.Path, e.URL, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }
