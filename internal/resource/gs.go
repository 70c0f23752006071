package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/compute/metadata"
)

// gsScheme fetches gs://bucket/object URLs through the Cloud Storage JSON
// API (GET …/storage/v1/b/<bucket>/o/<object>?alt=media) over an http
// scheme of its own, so that retries, resuming by range and the
// classification of answers are those of http(s) fetches.
//
// When the GCE metadata server is reachable and the instance has a default
// service account, requests carry that account's access token; otherwise
// they are anonymous (public objects). The probe is short and its answer
// is kept for the life of the Fetcher; the token is kept until shortly
// before it expires.
type gsScheme struct {
	opts *Options
	// shared is the fetcher's http(s) scheme, whose connection pool GCS uses.
	shared *httpScheme
	// probeTimeout bounds the first metadata request; default gsProbeTimeout.
	probeTimeout time.Duration

	initOnce sync.Once
	http     *httpScheme
	meta     *metadata.Client
	seen     *metadataTransport
	base     string

	mu        sync.Mutex // held while asking for a token
	decided   bool       // whether we know if there is a service account
	anonymous bool
	token     string
	expiry    time.Time
}

const (
	gcsDefaultBase = "https://storage.googleapis.com"
	// gsProbeTimeout bounds how long a fetch may wait to learn whether it
	// runs on GCE with a service account.
	gsProbeTimeout = 3 * time.Second
	// gsTokenMargin: a cached token is replaced this long before it
	// expires, so that it does not expire in flight.
	gsTokenMargin = 2 * time.Minute
	gsTokenPath   = "instance/service-accounts/default/token"
)

func (g *gsScheme) open(ctx context.Context, req *Request, u *url.URL) (body, error) {
	if u.Opaque != "" || u.User != nil || u.Host == "" {
		return body{}, errors.New("malformed gs URL: want gs://bucket/object")
	}
	bucket := u.Host
	object := strings.TrimPrefix(u.Path, "/")
	if object == "" {
		return body{}, errors.New("malformed gs URL: no object name")
	}
	g.init()
	token, err := g.accessToken(ctx)
	if err != nil {
		return body{}, err
	}
	target, err := url.Parse(g.base + "/storage/v1/b/" + gcsEscape(bucket) + "/o/" + gcsEscape(object) + "?alt=media")
	if err != nil {
		return body{}, err
	}
	// The config's own headers and Accept are for http(s) sources only.
	greq := &Request{URL: target.String(), Path: req.Path}
	if token != "" {
		greq.Headers = http.Header{"Authorization": {"Bearer " + token}}
	}
	return g.http.open(ctx, greq, target)
}

// gcsEscape percent-encodes a bucket or object name for one path segment
// of the JSON API: everything but unreserved characters, "/" included.
func gcsEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func (g *gsScheme) init() {
	g.initOnce.Do(func() {
		// The fetcher's settings, and 429 (rate limited) is worth a retry.
		opts := *g.opts
		opts.RetryStatus = append(append([]int(nil), g.opts.RetryStatus...), http.StatusTooManyRequests)
		g.http = &httpScheme{client: g.shared.client, opts: &opts}
		g.base = gcsDefaultBase
		if ep := g.opts.Endpoints.GCS; ep != "" {
			g.base = strings.TrimSuffix(ep, "/")
		}
		g.seen = &metadataTransport{
			host: g.opts.Endpoints.GCEMetadata,
			// The metadata server is link-local: never through a proxy.
			next: &http.Transport{
				DialContext:           (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
				ResponseHeaderTimeout: 5 * time.Second,
				IdleConnTimeout:       60 * time.Second,
			},
		}
		g.meta = metadata.NewWithOptions(&metadata.Options{Client: &http.Client{Transport: g.seen, Timeout: 10 * time.Second}})
	})
}

// metadataTransport notes whether the GCE metadata server itself has
// answered (its responses say "Metadata-Flavor: Google"), to tell "not on
// GCE" from "on GCE, and the metadata server is having a bad moment".
// When host is set (Options.Endpoints.GCEMetadata, tests only), requests
// go there instead: the metadata package itself knows only
// 169.254.169.254 and an environment variable.
type metadataTransport struct {
	host   string
	next   http.RoundTripper
	google atomic.Bool
}

func (m *metadataTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if m.host != "" {
		r = r.Clone(r.Context())
		r.URL.Host, r.Host = m.host, m.host
	}
	resp, err := m.next.RoundTrip(r)
	if err == nil && resp.Header.Get("Metadata-Flavor") == "Google" {
		m.google.Store(true)
	}
	return resp, err
}

// accessToken returns the default service account's access token, or ""
// for anonymous requests when not on GCE or there is no such account.
func (g *gsScheme) accessToken(ctx context.Context) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.decided && g.anonymous {
		return "", nil
	}
	if g.token != "" && time.Now().Before(g.expiry.Add(-gsTokenMargin)) {
		return g.token, nil
	}

	mctx := ctx
	if !g.decided {
		timeout := g.probeTimeout
		if timeout <= 0 {
			timeout = gsProbeTimeout
		}
		var cancel context.CancelFunc
		mctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	raw, err := g.meta.GetWithContext(mctx, gsTokenPath)
	if err != nil {
		if ctx.Err() != nil {
			return "", err // cancelled: decide another time
		}
		var undefined metadata.NotDefinedError
		var refused *metadata.Error
		if errors.As(err, &undefined) || errors.As(err, &refused) && refused.Code < 500 && refused.Code != http.StatusTooManyRequests {
			// No default service account (or none we may use), or not
			// the GCE metadata server at all.
			g.decided, g.anonymous, g.token = true, true, ""
			return "", nil
		}
		if g.decided || g.seen.google.Load() {
			// On GCE, and the metadata server failed or was too slow
			// this time (it is retried, and the decision left open).
			return "", Retryable(fmt.Errorf("getting an access token from the GCE metadata server: %w", err))
		}
		// Not on GCE: nothing answered, or something that is not the
		// GCE metadata server did.
		g.decided, g.anonymous = true, true
		return "", nil
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(raw), &tok); err != nil || tok.AccessToken == "" ||
		(tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "Bearer")) {
		if !g.decided && !g.seen.google.Load() {
			// Not the GCE metadata server after all.
			g.decided, g.anonymous = true, true
			return "", nil
		}
		return "", fmt.Errorf("GCE metadata server sent an unusable access token (%d bytes)", len(raw))
	}
	g.decided, g.anonymous = true, false
	g.token = tok.AccessToken
	g.expiry = start.Add(time.Duration(tok.ExpiresIn) * time.Second)
	return g.token, nil
}
