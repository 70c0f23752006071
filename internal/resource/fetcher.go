package resource

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/version"
)

// Options configure a Fetcher. The zero value is usable: defaults as in
// the spec (10 s to response headers, no total limit, 8 at once).
type Options struct {
	// Offline allows only data URLs; anything else fails with ErrNeedsNetwork.
	Offline bool
	// Concurrency bounds FetchAll; default 8.
	Concurrency int
	// ResponseHeaderTimeout is how long an http(s) server may take to
	// answer; default 10 s (ignition.timeouts.httpResponseHeaders).
	ResponseHeaderTimeout time.Duration
	// Total bounds each fetch, retries included; 0 means no limit
	// (ignition.timeouts.httpTotal).
	Total time.Duration
	// Proxy for http(s) (ignition.proxy).
	Proxy types.Proxy
	// CAs are extra PEM certificate bundles trusted for https, besides the
	// system's (ignition.security.tls.certificateAuthorities, fetched).
	CAs [][]byte
	// RetryStatus lists extra HTTP status codes to retry, besides 5xx
	// (some providers answer 404 until the metadata is ready).
	RetryStatus []int
	// RetryMin and RetryMax bound the back-off between attempts; defaults
	// 200 ms and 5 s.
	RetryMin, RetryMax time.Duration
	// UserAgent sent with http(s) requests; default "Ignition-Go/<version>".
	UserAgent string
	// Endpoints overrides service endpoints (S3, GCS, cloud metadata). For
	// tests only: production code never sets it.
	Endpoints Endpoints
}

// Endpoints are service base URLs a test can point at its own servers.
type Endpoints struct {
	S3          string // e.g. http://127.0.0.1:9000
	GCS         string // GCS JSON API base, e.g. http://127.0.0.1:8080
	GCEMetadata string // host:port of the GCE metadata server
	EC2Metadata string // base URL of the EC2 instance metadata service
}

// OptionsFor returns the options a config's ignition section asks for
// (timeouts and proxy); CAs must be fetched and added by the caller.
func OptionsFor(ign types.Ignition) Options {
	var o Options
	if t := ign.Timeouts.HTTPResponseHeaders; t != nil {
		o.ResponseHeaderTimeout = time.Duration(*t) * time.Second
		if *t == 0 {
			o.ResponseHeaderTimeout = -1 // explicit 0: no limit
		}
	}
	if t := ign.Timeouts.HTTPTotal; t != nil {
		o.Total = time.Duration(*t) * time.Second
	}
	o.Proxy = ign.Proxy
	return o
}

// Fetcher fetches resources. It is safe for concurrent use; all http(s)
// fetches share one connection pool.
type Fetcher struct {
	opts    Options
	schemes map[string]scheme
}

// scheme opens the raw (still compressed) bytes of a resource.
type scheme interface {
	open(ctx context.Context, req *Request, u *url.URL) (body, error)
}

// body is an open resource. resume, when set, reopens the same object at
// a byte offset, so a body that breaks off can continue where it stopped.
type body struct {
	io.ReadCloser
	resume func(ctx context.Context, offset int64) (io.ReadCloser, error)
}

// New returns a Fetcher.
func New(opts Options) (*Fetcher, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.ResponseHeaderTimeout == 0 {
		opts.ResponseHeaderTimeout = 10 * time.Second
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 200 * time.Millisecond
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 5 * time.Second
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "Ignition-Go/" + version.Raw
	}
	f := &Fetcher{opts: opts}
	h, err := newHTTPScheme(&f.opts)
	if err != nil {
		return nil, err
	}
	s3 := &s3Scheme{opts: &f.opts, shared: h}
	f.schemes = map[string]scheme{
		"http":  h, // Azure blob URLs are plain https
		"https": h,
		"tftp":  &tftpScheme{opts: &f.opts},
		"s3":    s3,
		"arn":   s3, // S3 bucket and access point ARNs
		"gs":    &gsScheme{opts: &f.opts, shared: h},
		"data":  dataScheme{},
	}
	return f, nil
}

// Fetch streams the resource into sink: decompressed, and verified when
// the request has a hash. On error the sink holds partial data, which the
// caller discards (FetchToFile and FetchBytes do).
func (f *Fetcher) Fetch(ctx context.Context, req Request, sink Sink) error {
	if err := f.fetch(ctx, &req, sink); err != nil {
		return &Error{Path: req.Path, URL: Redact(req.URL), Err: err}
	}
	return nil
}

func (f *Fetcher) fetch(ctx context.Context, req *Request, sink Sink) error {
	u, err := url.Parse(req.URL)
	if err != nil {
		return fmt.Errorf("parsing URL: %w", err)
	}
	if f.opts.Offline && u.Scheme != "data" {
		return ErrNeedsNetwork
	}
	s, ok := f.schemes[u.Scheme]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnsupportedScheme, u.Scheme)
	}
	newHash, want, err := parseHash(req.Hash)
	if err != nil {
		return err
	}
	if f.opts.Total > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.opts.Total)
		defer cancel()
	}

	wait := f.opts.RetryMin
	var last error // the last retryable failure
	for {
		err := f.attempt(ctx, s, req, u, sink, newHash, want)
		if err == nil {
			return nil
		}
		if !IsRetryable(err) {
			if last != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				// Time ran out during an attempt: say why we kept trying.
				return giveUp(ctx, last)
			}
			return err
		}
		last = err
		if rerr := sink.Rewind(); rerr != nil {
			return fmt.Errorf("%w (and starting over failed: %v)", err, rerr)
		}
		if !sleep(ctx, wait) {
			return giveUp(ctx, err)
		}
		wait = min(2*wait, f.opts.RetryMax)
	}
}

// giveUp is the final error of a fetch whose context ended while it was
// retrying err: the last failure, and why there was no more trying.
func giveUp(ctx context.Context, err error) error {
	return fmt.Errorf("%w (gave up: %w)", errors.Unwrap(err), context.Cause(ctx))
}

// attempt runs the pipeline once: source → decompress → hash → sink.
func (f *Fetcher) attempt(ctx context.Context, s scheme, req *Request, u *url.URL, sink Sink, newHash func() hash.Hash, want string) error {
	b, err := s.open(ctx, req, u)
	if err != nil {
		return err
	}
	raw := &resumingReader{ctx: ctx, body: b, f: f}
	defer raw.Close()

	var r io.Reader = raw
	if req.Compression == "gzip" {
		gz, err := gzip.NewReader(raw)
		if err != nil {
			return raw.blame(fmt.Errorf("decompressing: %w", err))
		}
		defer gz.Close()
		r = gz
	}
	var w io.Writer = sink
	var h hash.Hash
	if newHash != nil {
		h = newHash()
		w = io.MultiWriter(sink, h)
	}
	if _, err := copyTo(w, r); err != nil {
		return raw.blame(err)
	}
	if h != nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return &HashMismatchError{Want: req.Hash, Got: req.Hash[:strings.IndexByte(req.Hash, '-')+1] + got}
		}
	}
	return nil
}

// copyTo copies with a buffer large enough for fast networks and disks,
// keeping write errors apart from read errors.
func copyTo(w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		m, rerr := r.Read(buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, fmt.Errorf("writing: %w", werr)
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// parseHash returns the hash constructor and expected hex digest for a
// "<function>-<hex>" specifier (validated by config/ already).
func parseHash(spec string) (func() hash.Hash, string, error) {
	if spec == "" {
		return nil, "", nil
	}
	fn, sum, _ := strings.Cut(spec, "-")
	switch fn {
	case "sha512":
		return sha512.New, strings.ToLower(sum), nil
	case "sha256":
		return sha256.New, strings.ToLower(sum), nil
	}
	return nil, "", fmt.Errorf("unsupported hash function %q", fn)
}

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// resumingReader reads a body and, when it breaks off and the source can
// resume, reopens it at the offset reached (with back-off) so the
// pipeline never notices. It remembers whether the source itself failed,
// so that the attempt's error can be classified: a source error may be
// worth retrying, a decompression or hash error after a clean end is not.
type resumingReader struct {
	ctx       context.Context
	body      body
	f         *Fetcher
	offset    int64
	sourceErr error
	pending   error // a source error that came with the last bytes read
}

func (r *resumingReader) Read(p []byte) (int, error) {
	for {
		var n int
		var err error
		if r.pending != nil {
			err, r.pending = r.pending, nil
		} else {
			n, err = r.body.Read(p)
			r.offset += int64(n)
		}
		if err == nil || err == io.EOF || n > 0 {
			if err != nil && err != io.EOF {
				// Deliver the bytes now and the error next Read: the
				// source need not report it again (net/http's bodies
				// say io.EOF after a short one).
				r.pending, err = err, nil
			}
			return n, err
		}
		if r.body.resume == nil || r.ctx.Err() != nil {
			r.sourceErr = err
			return 0, err
		}
		if rerr := r.reopen(); rerr != nil {
			r.sourceErr = err
			return 0, fmt.Errorf("%w (resuming failed: %v)", err, rerr)
		}
	}
}

// reopen retries resuming the body at the current offset with back-off;
// it gives up when a resume is refused (the attempt then starts over).
func (r *resumingReader) reopen() error {
	r.body.Close()
	wait := r.f.opts.RetryMin
	for {
		rc, err := r.body.resume(r.ctx, r.offset)
		if err == nil {
			r.body.ReadCloser = rc
			return nil
		}
		if !IsRetryable(err) || !sleep(r.ctx, wait) {
			r.body.ReadCloser = io.NopCloser(strings.NewReader(""))
			return err
		}
		wait = min(2*wait, r.f.opts.RetryMax)
	}
}

func (r *resumingReader) Close() error { return r.body.Close() }

// blame classifies err from the pipeline: if the source failed, the
// attempt may be retried (it is worth another try when the network broke);
// anything else (bad gzip, a full disk) is final.
func (r *resumingReader) blame(err error) error {
	if r.sourceErr != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return Retryable(err)
	}
	return err
}
