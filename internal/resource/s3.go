package resource

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Scheme fetches s3://bucket/key URLs and S3 ARNs (bucket and access
// point forms), each with an optional ?versionId=.
//
// Requests are signed with the EC2 instance role's credentials when the
// instance metadata service (IMDS) says there is a role, and are anonymous
// otherwise; the probe is short and its answer is kept for the life of the
// Fetcher. A bucket's region is asked of S3 once (HeadBucket, falling back
// to GetBucketLocation) and remembered; an access point's region is in its
// ARN. Objects are streamed, and resumed by range when they break off,
// provided they still have the same ETag.
type s3Scheme struct {
	opts *Options
	// shared is the fetcher's http(s) scheme, whose connection pool S3 uses.
	shared *httpScheme
	// probeTimeout bounds the IMDS probe; default s3ProbeTimeout.
	probeTimeout time.Duration

	initOnce   sync.Once
	httpClient s3.HTTPClient

	// The IMDS decision, made once (under envMu).
	envMu        sync.Mutex
	decided      bool
	env          s3Env
	probeRetries int

	// Caches (under cacheMu): bucket regions by partition/bucket, clients
	// by region.
	cacheMu sync.Mutex
	regions map[string]string
	clients map[string]*s3.Client
}

// s3Env is what the instance metadata service told us, once.
type s3Env struct {
	creds      aws.CredentialsProvider // nil: anonymous
	roleCache  *aws.CredentialsCache   // the cache behind creds
	homeRegion string                  // the instance's region, if known
}

// s3ProbeTimeout bounds how long a fetch may wait to learn whether there
// is an instance role. On EC2 the IMDS answers in milliseconds; elsewhere
// the address is usually unreachable or answers something else at once.
const s3ProbeTimeout = 2 * time.Second

// s3MaxProbeRetries bounds how many probes an IMDS answering with server
// errors gets before requests go out anonymously.
const s3MaxProbeRetries = 10

// s3Location is an object named by an s3:// URL or an S3 ARN.
type s3Location struct {
	bucket    string // bucket name, or access point ARN (arn:...:accesspoint/name)
	key       string
	versionID string
	// partition is the ARN's; "" for s3:// URLs, which name a bucket in
	// the partition the instance is in (aws-cn for an instance in China).
	partition string
	// region is set for access points (from the ARN); buckets are
	// looked up.
	region      string
	accessPoint bool
}

// parseS3Location reads an s3:// URL or an S3 ARN. Keys in s3:// URLs are
// percent-decoded like any URL path; keys in ARNs are taken literally,
// as AWS writes them.
func parseS3Location(u *url.URL) (s3Location, error) {
	var loc s3Location
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return loc, fmt.Errorf("parsing query: %w", err)
	}
	for k := range q {
		if k != "versionId" {
			return loc, fmt.Errorf("unsupported query parameter %q (only versionId is allowed)", k)
		}
	}
	loc.versionID = q.Get("versionId")

	switch u.Scheme {
	case "s3":
		if u.User != nil || u.Opaque != "" {
			return loc, errors.New("malformed s3 URL: want s3://bucket/key")
		}
		loc.bucket = u.Host
		loc.key = strings.TrimPrefix(u.Path, "/")
		if loc.bucket == "" || strings.Contains(loc.bucket, ":") {
			return loc, fmt.Errorf("malformed s3 URL: bad bucket name %q", loc.bucket)
		}
		if loc.key == "" {
			return loc, errors.New("malformed s3 URL: no object key")
		}
		return loc, nil
	case "arn":
		return parseS3ARN(loc, "arn:"+u.Opaque)
	}
	return loc, fmt.Errorf("%w %q", ErrUnsupportedScheme, u.Scheme)
}

func parseS3ARN(loc s3Location, s string) (s3Location, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return loc, err
	}
	if a.Service != "s3" {
		return loc, fmt.Errorf("unsupported ARN: service %q is not s3", a.Service)
	}
	loc.partition = a.Partition
	if rest, ok := strings.CutPrefix(a.Resource, "accesspoint/"); ok {
		// arn:<partition>:s3:<region>:<account>:accesspoint/<name>/object/<key>
		name, objPath, _ := strings.Cut(rest, "/")
		key, ok := strings.CutPrefix(objPath, "object/")
		switch {
		case a.AccountID == "":
			return loc, errors.New("malformed S3 access point ARN: no account ID")
		case a.Region == "":
			return loc, errors.New("unsupported S3 ARN: multi-region access points are not supported")
		case name == "" || !ok || key == "":
			return loc, errors.New("malformed S3 access point ARN: want accesspoint/<name>/object/<key>")
		}
		loc.bucket = fmt.Sprintf("arn:%s:s3:%s:%s:accesspoint/%s", a.Partition, a.Region, a.AccountID, name)
		loc.key = key
		loc.region = a.Region
		loc.accessPoint = true
		return loc, nil
	}
	// arn:<partition>:s3:::<bucket>/<key>
	if a.Region != "" || a.AccountID != "" {
		return loc, errors.New("unsupported S3 ARN: want arn:<partition>:s3:::<bucket>/<key> or an access point object ARN")
	}
	bucket, key, _ := strings.Cut(a.Resource, "/")
	if bucket == "" || key == "" {
		return loc, errors.New("malformed S3 bucket ARN: want arn:<partition>:s3:::<bucket>/<key>")
	}
	loc.bucket, loc.key = bucket, key
	return loc, nil
}

func (s *s3Scheme) open(ctx context.Context, req *Request, u *url.URL) (body, error) {
	loc, err := parseS3Location(u)
	if err != nil {
		return body{}, err
	}
	s.init()
	env, err := s.environment(ctx)
	if err != nil {
		return body{}, err
	}
	region := loc.region
	if region == "" {
		if region, err = s.bucketRegion(ctx, env, &loc); err != nil {
			return body{}, err
		}
	}
	client := s.client(region, env, loc.accessPoint)
	in := &s3.GetObjectInput{Bucket: aws.String(loc.bucket), Key: aws.String(loc.key)}
	if loc.versionID != "" {
		in.VersionId = aws.String(loc.versionID)
	}
	out, err := client.GetObject(ctx, in)
	if err != nil {
		return body{}, s.classify(ctx, env, &loc, err)
	}
	b := body{ReadCloser: out.Body}
	// Resume only the same bytes: the rest of the object from the
	// offset, on condition that its ETag has not changed.
	if etag := aws.ToString(out.ETag); etag != "" {
		b.resume = func(ctx context.Context, offset int64) (io.ReadCloser, error) {
			rin := *in
			rin.Range = aws.String("bytes=" + strconv.FormatInt(offset, 10) + "-")
			rin.IfMatch = aws.String(etag)
			out, err := client.GetObject(ctx, &rin)
			if err != nil {
				return nil, s.classify(ctx, env, &loc, err)
			}
			if !strings.HasPrefix(aws.ToString(out.ContentRange), "bytes "+strconv.FormatInt(offset, 10)+"-") {
				out.Body.Close()
				return nil, errors.New("S3 sent the wrong range")
			}
			return out.Body, nil
		}
	}
	return b, nil
}

// init sets up the HTTP client for S3: the fetcher's shared one (proxy,
// CAs, timeouts, no transparent decompression, one connection pool).
func (s *s3Scheme) init() {
	s.initOnce.Do(func() {
		s.httpClient = s.shared.client
		if s.opts.Endpoints.S3 != "" {
			s.httpClient = &accessPointPathStyle{base: s.opts.Endpoints.S3, next: s.shared.client}
		}
	})
}

// environment asks the instance metadata service, once per Fetcher,
// whether this machine has an instance role (and which region it is in).
// Anything but an answer naming a role means anonymous requests: no IMDS,
// an IMDS that does not know the path (another cloud), or no role.
func (s *s3Scheme) environment(ctx context.Context) (s3Env, error) {
	s.envMu.Lock()
	defer s.envMu.Unlock()
	if s.decided {
		return s.env, nil
	}
	timeout := s.probeTimeout
	if timeout <= 0 {
		timeout = s3ProbeTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	client, seen := s.imdsClient()
	var env s3Env
	out, err := client.GetMetadata(pctx, &imds.GetMetadataInput{Path: "/iam/security-credentials/"})
	if err != nil && ctx.Err() != nil {
		return env, err // the fetch was cancelled: decide next time
	}
	if err != nil && seen.serverError.Load() && s.probeRetries < s3MaxProbeRetries {
		// An IMDS that fails (rather than one that is not there or says
		// there is no role) is asked again: deciding "anonymous" now
		// could turn a busy moment into AccessDenied for good.
		s.probeRetries++
		return env, Retryable(fmt.Errorf("asking the EC2 instance metadata service for an instance role: %w", err))
	}
	var status interface{ HTTPStatusCode() int }
	answered := err == nil || errors.As(err, &status)
	if err == nil {
		role := firstLine(out.Content)
		out.Content.Close()
		if role != "" {
			env.roleCache = aws.NewCredentialsCache(ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client }))
			env.creds = roleCredentials{env.roleCache}
		}
	}
	if answered {
		// Where to start looking for buckets: the instance's own region
		// (in the right partition) rather than us-east-1.
		if r, err := client.GetRegion(pctx, &imds.GetRegionInput{}); err == nil {
			env.homeRegion = r.Region
		}
	}
	s.env, s.decided = env, true
	return env, nil
}

// imdsClient talks to the instance metadata service directly, never
// through a proxy, with fail-fast timeouts (those the SDK uses for its
// own default client).
func (s *s3Scheme) imdsClient() (*imds.Client, *imdsWatch) {
	hc := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = 250 * time.Millisecond }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.Proxy = nil
			tr.ResponseHeaderTimeout = 500 * time.Millisecond
		})
	w := &imdsWatch{next: hc}
	o := imds.Options{HTTPClient: w}
	if ep := s.opts.Endpoints.EC2Metadata; ep != "" {
		o.Endpoint = ep
	}
	return imds.New(o), w
}

// imdsWatch notes whether the IMDS answered with a server error.
type imdsWatch struct {
	next        imds.HTTPClient
	serverError atomic.Bool
}

func (w *imdsWatch) Do(r *http.Request) (*http.Response, error) {
	resp, err := w.next.Do(r)
	if err == nil && resp.StatusCode >= 500 {
		w.serverError.Store(true)
	}
	return resp, err
}

func firstLine(r io.Reader) string {
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			return line
		}
	}
	return ""
}

// roleCredentials marks failures to get the instance role's credentials,
// which are worth retrying: the IMDS said there is a role.
type roleCredentials struct{ cache *aws.CredentialsCache }

type roleCredentialsError struct{ err error }

func (e *roleCredentialsError) Error() string {
	return "getting instance role credentials: " + e.err.Error()
}
func (e *roleCredentialsError) Unwrap() error { return e.err }

func (c roleCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := c.cache.Retrieve(ctx)
	if err != nil {
		return creds, &roleCredentialsError{err}
	}
	return creds, nil
}

// partitionRegions are where to ask about buckets of a partition the
// instance is not in.
var partitionRegions = map[string]string{
	"aws":        "us-east-1",
	"aws-cn":     "cn-north-1",
	"aws-us-gov": "us-gov-west-1",
	"aws-iso":    "us-iso-east-1",
	"aws-iso-b":  "us-isob-east-1",
}

// regionPartition guesses a region's partition from its name.
func regionPartition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	}
	return "aws"
}

// bucketRegion returns the region of loc's bucket: from the cache, or
// asked of S3 starting from the instance's region (us-east-1 when not on
// EC2). When S3 will not say, the starting region is used (not cached),
// and GetObject's error tells what is wrong.
func (s *s3Scheme) bucketRegion(ctx context.Context, env s3Env, loc *s3Location) (string, error) {
	partition := loc.partition
	if partition == "" {
		// An s3:// URL: S3 partitions are separate worlds, and such a
		// URL means the one the instance is in.
		partition = "aws"
		if env.homeRegion != "" {
			partition = regionPartition(env.homeRegion)
		}
	}
	key := partition + "/" + loc.bucket
	s.cacheMu.Lock()
	region, ok := s.regions[key]
	s.cacheMu.Unlock()
	if ok {
		return region, nil
	}

	start := env.homeRegion
	if start == "" || regionPartition(start) != partition {
		start = partitionRegions[partition]
		if start == "" {
			return "", fmt.Errorf("unknown AWS partition %q", partition)
		}
	}
	client := s.client(start, env, false)
	head, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(loc.bucket)})
	if err == nil {
		region = aws.ToString(head.BucketRegion)
	} else {
		// S3 names the bucket's region even when refusing access or
		// redirecting to another region.
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			region = re.Response.Header.Get("X-Amz-Bucket-Region")
		}
		if region == "" {
			if re != nil && re.HTTPStatusCode() == http.StatusNotFound {
				return "", fmt.Errorf("S3 bucket %q does not exist (HeadBucket: %s)", loc.bucket, http.StatusText(http.StatusNotFound))
			}
			if cerr := s.classify(ctx, env, loc, err); IsRetryable(cerr) || ctx.Err() != nil {
				return "", cerr
			}
		}
	}
	if region == "" {
		where, err := client.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(loc.bucket)})
		switch {
		case err == nil:
			switch region = string(where.LocationConstraint); region {
			case "":
				region = "us-east-1"
			case "EU":
				region = "eu-west-1"
			}
		case ctx.Err() != nil:
			return "", err
		}
	}
	if region == "" {
		return start, nil
	}
	s.cacheMu.Lock()
	if s.regions == nil {
		s.regions = map[string]string{}
	}
	s.regions[key] = region
	s.cacheMu.Unlock()
	return region, nil
}

// client returns the S3 client for region (one per region per Fetcher).
// The fetcher does the retrying, so the SDK does not.
func (s *s3Scheme) client(region string, env s3Env, accessPoint bool) *s3.Client {
	testEndpoint := s.opts.Endpoints.S3
	key := region
	if testEndpoint != "" && accessPoint {
		key += " access point"
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if c, ok := s.clients[key]; ok {
		return c
	}
	o := s3.Options{
		Region:     region,
		HTTPClient: s.httpClient,
		Retryer:    aws.NopRetryer{},
	}
	if env.creds != nil {
		o.Credentials = env.creds
	} else {
		o.Credentials = aws.AnonymousCredentials{}
	}
	if testEndpoint != "" {
		// Path-style for buckets; the SDK refuses it for access point
		// ARNs, whose host-style requests accessPointPathStyle rewrites.
		o.BaseEndpoint = aws.String(testEndpoint)
		o.UsePathStyle = !accessPoint
	}
	c := s3.New(o)
	if s.clients == nil {
		s.clients = map[string]*s3.Client{}
	}
	s.clients[key] = c
	return c
}

// apiError is what S3's error responses look like through the SDK.
type apiError interface {
	error
	ErrorCode() string
	ErrorMessage() string
}

// s3RetryCodes are S3 error codes worth another try.
var s3RetryCodes = []string{
	"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
	"TooManyRequests", "RequestTimeout", "RequestTimeTooSkewed",
	"InternalError", "ServiceUnavailable", "ExpiredToken", "TokenRefreshRequired",
}

// classify turns an SDK error into a fetch error: throttling, 5xx,
// network failures and credential refreshes are retryable; missing
// objects and buckets and refused access are final, and say so plainly.
func (s *s3Scheme) classify(ctx context.Context, env s3Env, loc *s3Location, err error) error {
	if ctx.Err() != nil {
		return err
	}
	var credErr *roleCredentialsError
	if errors.As(err, &credErr) {
		return Retryable(credErr)
	}
	var ae apiError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if slices.Contains(s3RetryCodes, code) || status >= 500 || status == http.StatusTooManyRequests {
		if code == "ExpiredToken" && env.roleCache != nil {
			env.roleCache.Invalidate()
		}
		return Retryable(err)
	}
	if status != 0 && slices.Contains(s.opts.RetryStatus, status) {
		return Retryable(err)
	}
	detail := code
	if ae != nil && ae.ErrorMessage() != "" {
		detail += ": " + ae.ErrorMessage()
	}
	if detail == "" && status != 0 {
		detail = fmt.Sprintf("HTTP %d", status)
	}
	who := "anonymously (no instance role)"
	if env.creds != nil {
		who = "with the instance role's credentials"
	}
	what := fmt.Sprintf("object %q in S3 bucket %q", loc.key, loc.bucket)
	if loc.accessPoint {
		what = fmt.Sprintf("object %q through S3 access point %q", loc.key, loc.bucket)
	}
	switch {
	case code == "NoSuchKey" || (code == "" && status == http.StatusNotFound):
		return fmt.Errorf("%s does not exist (%s)", what, detail)
	case code == "NoSuchBucket":
		return fmt.Errorf("S3 bucket %q does not exist (%s)", loc.bucket, detail)
	case code == "NoSuchVersion":
		return fmt.Errorf("version %q of %s does not exist (%s)", loc.versionID, what, detail)
	case code == "AccessDenied" || status == http.StatusForbidden:
		return fmt.Errorf("access denied to %s, asked %s (%s)", what, who, detail)
	case code == "PreconditionFailed" || status == http.StatusPreconditionFailed:
		return fmt.Errorf("%s changed while it was being fetched (%s)", what, detail)
	case code != "" || status != 0:
		return fmt.Errorf("S3 refused %s (%s)", what, detail)
	}
	var conn interface{ ConnectionError() bool }
	var verr *tls.CertificateVerificationError
	if errors.As(err, &conn) && conn.ConnectionError() && !errors.As(err, &verr) {
		// Connection refused or reset, DNS not ready, header timeout.
		return Retryable(err)
	}
	return err
}

// accessPointPathStyle is the HTTP client used when Options.Endpoints.S3
// points at a test server: the SDK addresses access points by host name
// (<name>-<account>.<endpoint host>) whatever the addressing style, so
// such requests are sent to the endpoint itself with that label moved to
// the front of the path, as path-style bucket requests are. Never used
// in production.
type accessPointPathStyle struct {
	base string
	next *http.Client
}

func (t *accessPointPathStyle) Do(r *http.Request) (*http.Response, error) {
	if eu, err := url.Parse(t.base); err == nil && r.URL.Host != eu.Host {
		if label, host, ok := strings.Cut(r.URL.Host, "."); ok && host == eu.Host {
			r = r.Clone(r.Context())
			r.URL.Host, r.Host = host, host
			r.URL.Path = "/" + label + r.URL.Path
			if r.URL.RawPath != "" {
				r.URL.RawPath = "/" + label + r.URL.RawPath
			}
		}
	}
	return t.next.Do(r)
}
