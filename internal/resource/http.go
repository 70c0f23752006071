package resource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpproxy"
)

// httpScheme fetches http and https URLs over one shared transport.
type httpScheme struct {
	client *http.Client
	opts   *Options
}

// customHeadersKey carries a request's own header names through redirects.
type customHeadersKey struct{}

func newHTTPScheme(opts *Options) (*httpScheme, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for i, pem := range opts.CAs {
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("certificate authority %d: no PEM certificate found", i)
		}
	}
	proxy := (&httpproxy.Config{
		HTTPProxy:  deref(opts.Proxy.HTTPProxy),
		HTTPSProxy: deref(opts.Proxy.HTTPSProxy),
		NoProxy:    strings.Join(opts.Proxy.NoProxy, ","),
	}).ProxyFunc()
	headerTimeout := opts.ResponseHeaderTimeout
	if headerTimeout < 0 {
		headerTimeout = 0 // explicitly unlimited
	}
	transport := &http.Transport{
		Proxy:                 func(r *http.Request) (*url.URL, error) { return proxy(r.URL) },
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   opts.Concurrency,
		IdleConnTimeout:       90 * time.Second,
		// We decompress ourselves, and only when the config says so: a
		// transparently gunzipped body could not be resumed by offset.
		DisableCompression: true,
	}
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			// A config's headers (often credentials) are for the host it
			// named, not for wherever that host sends us.
			if r.URL.Host != via[0].URL.Host {
				names, _ := r.Context().Value(customHeadersKey{}).([]string)
				for _, name := range names {
					r.Header.Del(name)
				}
				// A config may override User-Agent; the next host still
				// gets ours rather than Go's.
				if r.Header.Get("User-Agent") == "" {
					r.Header.Set("User-Agent", opts.UserAgent)
				}
			}
			return nil
		},
	}
	return &httpScheme{client: client, opts: opts}, nil
}

func (h *httpScheme) open(ctx context.Context, req *Request, u *url.URL) (body, error) {
	resp, err := h.get(ctx, req, u, 0, "")
	if err != nil {
		return body{}, err
	}
	b := body{ReadCloser: resp.Body}
	// Resuming needs ranges and a validator, so that the bytes after the
	// offset come from the same version of the object.
	validator := resp.Header.Get("ETag")
	if validator == "" || strings.HasPrefix(validator, "W/") {
		validator = resp.Header.Get("Last-Modified")
	}
	if resp.Header.Get("Accept-Ranges") == "bytes" && validator != "" {
		b.resume = func(ctx context.Context, offset int64) (io.ReadCloser, error) {
			resp, err := h.get(ctx, req, u, offset, validator)
			if err != nil {
				return nil, err
			}
			return resp.Body, nil
		}
	}
	return b, nil
}

// get sends one request (a GET unless req.Method says otherwise). With offset > 0 it asks for the rest of the object
// from offset, on condition that it is still the version named by
// validator; anything but that exact range is refused.
func (h *httpScheme) get(ctx context.Context, req *Request, u *url.URL, offset int64, validator string) (*http.Response, error) {
	names := make([]string, 0, len(req.Headers))
	for name := range req.Headers {
		names = append(names, name)
	}
	ctx = context.WithValue(ctx, customHeadersKey{}, names)
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	hr, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	hr.Header.Set("User-Agent", h.opts.UserAgent)
	if req.Accept != "" {
		hr.Header.Set("Accept", req.Accept)
	}
	for name, values := range req.Headers {
		hr.Header[http.CanonicalHeaderKey(name)] = slices.Clone(values)
	}
	if offset > 0 {
		hr.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
		hr.Header.Set("If-Range", validator)
	}

	resp, err := h.client.Do(hr)
	if err != nil {
		// The client's errors quote the URL, query (signatures, tokens)
		// and all. Our error names the URL already, so drop the quote,
		// unless the failure was at a redirect target: then say where,
		// redacted.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			if uerr.URL == u.String() {
				err = uerr.Err
			} else {
				uerr.URL = Redact(uerr.URL)
			}
		}
		var verr *tls.CertificateVerificationError
		if ctx.Err() != nil || errors.As(err, &verr) {
			// Waiting will not make an untrusted certificate trusted.
			return nil, err
		}
		// Connection refused, reset, DNS not ready yet, header timeout:
		// at boot these usually mean "the network is not up yet".
		return nil, Retryable(err)
	}
	want := http.StatusOK
	if offset > 0 {
		want = http.StatusPartialContent
	}
	if resp.StatusCode == want {
		if offset > 0 && !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(offset, 10)+"-") {
			resp.Body.Close()
			return nil, errors.New("server sent the wrong range")
		}
		return resp, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) // let the connection be reused
	resp.Body.Close()
	err = &StatusError{Code: resp.StatusCode, Status: resp.Status}
	if offset > 0 {
		return nil, err // the caller starts over from the beginning
	}
	if resp.StatusCode >= 500 || slices.Contains(h.opts.RetryStatus, resp.StatusCode) {
		return nil, Retryable(err)
	}
	return nil, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
