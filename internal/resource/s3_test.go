package resource

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cloudSHA512 is the config's hash specifier for b (shared by the s3 and
// gs tests).
func cloudSHA512(b []byte) string {
	sum := sha512.Sum512(b)
	return "sha512-" + hex.EncodeToString(sum[:])
}

// cloudRandom returns n reproducible pseudo-random bytes.
func cloudRandom(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// s3Seen is one request the fake S3 received.
type s3Seen struct {
	method string
	path   string // decoded
	query  url.Values
	header http.Header
}

// fakeS3 speaks enough of the S3 REST API (path-style) for the SDK:
// GetObject with ranges and If-Match, HeadBucket with x-amz-bucket-region,
// GetBucketLocation.
type fakeS3 struct {
	srv *httptest.Server

	mu       sync.Mutex
	objects  map[string][]byte // "bucket/key" → bytes
	versions map[string]string // "bucket/key" → its only version ID
	regions  map[string]string // bucket → region
	// hideRegion makes HeadBucket answer 403 without naming the region.
	hideRegion bool
	// headStatus, when set, is HeadBucket's status (with the region
	// named), as when S3 redirects to the bucket's region.
	headStatus int
	// failures are error answers to GetObject, in turn, before success.
	failures []s3Failure
	// cutAt, when > 0, cuts the first full GetObject after that many bytes.
	cutAt int
	cut   bool
	// onRange runs before a ranged GetObject is answered.
	onRange func()
	seen    []s3Seen
}

type s3Failure struct {
	status int
	code   string
}

// set changes the fake's configuration under its lock.
func (fs *fakeS3) set(change func(fs *fakeS3)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	change(fs)
}

func newFakeS3(t *testing.T) *fakeS3 {
	fs := &fakeS3{objects: map[string][]byte{}, versions: map[string]string{}, regions: map[string]string{}}
	fs.srv = httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *fakeS3) put(bucket, key string, data []byte) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.objects[bucket+"/"+key] = data
}

func etagOf(data []byte) string {
	sum := sha512.Sum512(data)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func s3ErrorXML(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>%s</Code><Message>%s</Message><RequestId>REQ1</RequestId><HostId>HOST1</HostId></Error>`, code, msg)
}

func (fs *fakeS3) serve(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	fs.seen = append(fs.seen, s3Seen{method: r.Method, path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone()})
	fs.mu.Unlock()

	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodHead && key == "":
		fs.mu.Lock()
		region, ok := fs.regions[bucket]
		hide := fs.hideRegion
		status := fs.headStatus
		fs.mu.Unlock()
		switch {
		case !ok:
			w.WriteHeader(http.StatusNotFound)
		case hide:
			w.WriteHeader(http.StatusForbidden)
		case status != 0:
			w.Header().Set("X-Amz-Bucket-Region", region)
			w.WriteHeader(status)
		default:
			w.Header().Set("X-Amz-Bucket-Region", region)
			w.WriteHeader(http.StatusOK)
		}
	case r.Method == http.MethodGet && key == "" && r.URL.Query().Has("location"):
		fs.mu.Lock()
		region, ok := fs.regions[bucket]
		fs.mu.Unlock()
		if !ok {
			s3ErrorXML(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">%s</LocationConstraint>`, region)
	case r.Method == http.MethodGet && key != "":
		fs.getObject(w, r, bucket, key)
	default:
		s3ErrorXML(w, http.StatusNotImplemented, "NotImplemented", "fake S3 does not do that")
	}
}

func (fs *fakeS3) getObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	fs.mu.Lock()
	data, ok := fs.objects[bucket+"/"+key]
	version := fs.versions[bucket+"/"+key]
	var fail *s3Failure
	if len(fs.failures) > 0 {
		fail = &fs.failures[0]
		fs.failures = fs.failures[1:]
	}
	cutAt := fs.cutAt
	cut := cutAt > 0 && !fs.cut && r.Header.Get("Range") == ""
	if cut {
		fs.cut = true
	}
	onRange := fs.onRange
	fs.mu.Unlock()
	if onRange != nil && r.Header.Get("Range") != "" {
		onRange()
		fs.mu.Lock()
		data, ok = fs.objects[bucket+"/"+key]
		fs.mu.Unlock()
	}

	switch {
	case fail != nil:
		s3ErrorXML(w, fail.status, fail.code, "failing on purpose")
		return
	case !ok:
		s3ErrorXML(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	if v := r.URL.Query().Get("versionId"); v != "" && v != version {
		s3ErrorXML(w, http.StatusNotFound, "NoSuchVersion", "The specified version does not exist.")
		return
	}
	etag := etagOf(data)
	w.Header().Set("ETag", etag)
	w.Header().Set("Accept-Ranges", "bytes")
	if rg := r.Header.Get("Range"); rg != "" {
		if r.Header.Get("If-Match") != etag {
			s3ErrorXML(w, http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
			return
		}
		from, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || from >= len(data) {
			s3ErrorXML(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(data)-1, len(data)))
		w.Header().Set("Content-Length", strconv.Itoa(len(data)-from))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data[from:])
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if cut {
		w.Write(data[:cutAt])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	w.Write(data)
}

// requests returns the requests seen, filtered by method and whether they
// were for an object (true) or a bucket (false).
func (fs *fakeS3) requests(method string, object bool) []s3Seen {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []s3Seen
	for _, s := range fs.seen {
		_, key, _ := strings.Cut(strings.TrimPrefix(s.path, "/"), "/")
		if s.method == method && (key != "") == object {
			out = append(out, s)
		}
	}
	return out
}

func (fs *fakeS3) all() []s3Seen {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]s3Seen(nil), fs.seen...)
}

// fakeIMDS is an EC2 instance metadata service (IMDSv2 tokens), with or
// without an instance role.
type fakeIMDS struct {
	srv *httptest.Server

	role, accessKey, secretKey, sessionToken string
	region                                   string // "" answers 404

	mu sync.Mutex
	// failUntil: the role list answers 500 until then.
	failUntil time.Time
	listCalls int
	credCalls int
	untokened int // metadata GETs without the session token
}

func newFakeIMDS(t *testing.T, role, region string) *fakeIMDS {
	fi := &fakeIMDS{role: role, region: region, accessKey: "AKIDIGNITIONTEST", secretKey: "secret/key", sessionToken: "session-token-xyz"}
	fi.srv = httptest.NewServer(http.HandlerFunc(fi.serve))
	t.Cleanup(fi.srv.Close)
	return fi
}

const fakeIMDSToken = "imds-session-token"

func (fi *fakeIMDS) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
		if r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
		fmt.Fprint(w, fakeIMDSToken)
		return
	}
	fi.mu.Lock()
	defer fi.mu.Unlock()
	if r.Header.Get("X-Aws-Ec2-Metadata-Token") != fakeIMDSToken {
		fi.untokened++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	const creds = "/latest/meta-data/iam/security-credentials/"
	switch {
	case r.URL.Path == creds:
		fi.listCalls++
		if time.Now().Before(fi.failUntil) {
			http.Error(w, "busy", http.StatusInternalServerError)
			return
		}
		if fi.role == "" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, fi.role)
	case strings.HasPrefix(r.URL.Path, creds):
		fi.credCalls++
		if fi.role == "" || r.URL.Path != creds+fi.role {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{
			"Code":            "Success",
			"LastUpdated":     time.Now().UTC().Format(time.RFC3339),
			"Type":            "AWS-HMAC",
			"AccessKeyId":     fi.accessKey,
			"SecretAccessKey": fi.secretKey,
			"Token":           fi.sessionToken,
			"Expiration":      time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
		})
	case r.URL.Path == "/latest/dynamic/instance-identity/document" && fi.region != "":
		json.NewEncoder(w).Encode(map[string]string{"region": fi.region, "instanceId": "i-0123456789abcdef0"})
	default:
		http.NotFound(w, r)
	}
}

func (fi *fakeIMDS) calls() (list, creds, untokened int) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return fi.listCalls, fi.credCalls, fi.untokened
}

func newS3TestFetcher(t *testing.T, s3URL, imdsURL string) *Fetcher {
	t.Helper()
	f, err := New(Options{
		RetryMin:  5 * time.Millisecond,
		RetryMax:  20 * time.Millisecond,
		Endpoints: Endpoints{S3: s3URL, EC2Metadata: imdsURL},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func s3TestContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var sigV4Credential = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/\d{8}/([^/]+)/s3/aws4_request,`)

// signedAs returns the access key and region a request was signed with,
// or empty strings when it was not signed.
func signedAs(h http.Header) (key, region string) {
	m := sigV4Credential.FindStringSubmatch(h.Get("Authorization"))
	if m == nil {
		return "", ""
	}
	return m[1], m[2]
}

func TestS3FetchAnonymousWithHash(t *testing.T) {
	fs := newFakeS3(t)
	fi := newFakeIMDS(t, "", "")
	data := cloudRandom(300<<10, 1)
	fs.put("my-bucket", "dir/sub dir/config.ign", data)
	fs.set(func(fs *fakeS3) { fs.regions["my-bucket"] = "eu-west-2" })
	f := newS3TestFetcher(t, fs.srv.URL, fi.srv.URL)
	ctx := s3TestContext(t)

	for range 2 {
		got, err := f.FetchBytes(ctx, Request{URL: "s3://my-bucket/dir/sub%20dir/config.ign", Hash: cloudSHA512(data)}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(data) {
			t.Fatal("fetched bytes differ")
		}
	}
	for _, s := range fs.all() {
		if a := s.header.Get("Authorization"); a != "" {
			t.Errorf("%s %s was signed without an instance role: %q", s.method, s.path, a)
		}
		if s.header.Get("X-Amz-Security-Token") != "" {
			t.Errorf("%s %s carries a session token", s.method, s.path)
		}
	}
	if n := len(fs.requests(http.MethodHead, false)); n != 1 {
		t.Errorf("HeadBucket sent %d times for two fetches from one bucket, want 1 (region cached)", n)
	}
	gets := fs.requests(http.MethodGet, true)
	if len(gets) != 2 || gets[0].path != "/my-bucket/dir/sub dir/config.ign" {
		t.Errorf("GetObject requests: %+v", gets)
	}
	if list, creds, untokened := fi.calls(); list != 1 || creds != 0 || untokened != 0 {
		t.Errorf("IMDS role list asked %d times (want 1, decision cached), credentials %d (want 0), %d requests without IMDSv2 token", list, creds, untokened)
	}

	// A wrong hash is a final error.
	_, err := f.FetchBytes(ctx, Request{URL: "s3://my-bucket/dir/sub%20dir/config.ign", Hash: cloudSHA512([]byte("other"))}, 1<<20)
	var hm *HashMismatchError
	if !errors.As(err, &hm) {
		t.Fatalf("wrong hash: got %v", err)
	}
}

func TestS3SignedWithInstanceRole(t *testing.T) {
	fs := newFakeS3(t)
	fi := newFakeIMDS(t, "ignition-role", "ap-south-1")
	data := []byte(`{"ignition":{"version":"3.4.0"}}`)
	fs.put("signed-bucket", "config.ign", data)
	fs.set(func(fs *fakeS3) { fs.regions["signed-bucket"] = "eu-central-1" })
	f := newS3TestFetcher(t, fs.srv.URL, fi.srv.URL)

	got, err := f.FetchBytes(s3TestContext(t), Request{URL: "s3://signed-bucket/config.ign", Hash: cloudSHA512(data)}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(data) {
		t.Fatalf("got %q", got)
	}
	heads := fs.requests(http.MethodHead, false)
	if len(heads) != 1 {
		t.Fatalf("HeadBucket requests: %d", len(heads))
	}
	// The region lookup starts in the instance's region...
	if key, region := signedAs(heads[0].header); key != fi.accessKey || region != "ap-south-1" {
		t.Errorf("HeadBucket signed as %q in %q, want %q in ap-south-1 (Authorization %q)", key, region, fi.accessKey, heads[0].header.Get("Authorization"))
	}
	// ...and the object is fetched in the bucket's.
	gets := fs.requests(http.MethodGet, true)
	if len(gets) != 1 {
		t.Fatalf("GetObject requests: %d", len(gets))
	}
	if key, region := signedAs(gets[0].header); key != fi.accessKey || region != "eu-central-1" {
		t.Errorf("GetObject signed as %q in %q, want %q in eu-central-1 (Authorization %q)", key, region, fi.accessKey, gets[0].header.Get("Authorization"))
	}
	if tok := gets[0].header.Get("X-Amz-Security-Token"); tok != fi.sessionToken {
		t.Errorf("session token %q, want %q", tok, fi.sessionToken)
	}
	if _, creds, untokened := fi.calls(); creds != 1 || untokened != 0 {
		t.Errorf("role credentials fetched %d times (want 1), %d IMDS requests without token", creds, untokened)
	}
}

func TestS3VersionID(t *testing.T) {
	fs := newFakeS3(t)
	fi := newFakeIMDS(t, "", "")
	data := []byte("version two")
	fs.put("vb", "k", data)
	fs.set(func(fs *fakeS3) { fs.versions["vb/k"] = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY" })
	fs.set(func(fs *fakeS3) { fs.regions["vb"] = "us-east-1" })
	f := newS3TestFetcher(t, fs.srv.URL, fi.srv.URL)
	ctx := s3TestContext(t)

	got, err := f.FetchBytes(ctx, Request{URL: "s3://vb/k?versionId=3HL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY"}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(data) {
		t.Fatalf("got %q", got)
	}
	gets := fs.requests(http.MethodGet, true)
	if v := gets[0].query.Get("versionId"); v != "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY" {
		t.Errorf("versionId sent as %q", v)
	}

	_, err = f.FetchBytes(ctx, Request{URL: "s3://vb/k?versionId=nope"}, 1<<20)
	if err == nil || IsRetryable(err) || !strings.Contains(err.Error(), `version "nope"`) {
		t.Fatalf("missing version: got %v", err)
	}
}

func TestS3ARNs(t *testing.T) {
	fs := newFakeS3(t)
	fi := newFakeIMDS(t, "role", "")
	fs.put("arn-bucket", "dir/key.txt", []byte("via bucket ARN"))
	fs.set(func(fs *fakeS3) { fs.versions["arn-bucket/dir/key.txt"] = "v1" })
	fs.set(func(fs *fakeS3) { fs.regions["arn-bucket"] = "us-east-2" })
	fs.put("my-ap-123456789012", "dir/ap key.txt", []byte("via access point"))
	f := newS3TestFetcher(t, fs.srv.URL, fi.srv.URL)
	ctx := s3TestContext(t)

	got, err := f.FetchBytes(ctx, Request{URL: "arn:aws:s3:::arn-bucket/dir/key.txt?versionId=v1"}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "via bucket ARN" {
		t.Fatalf("bucket ARN: got %q", got)
	}
	gets := fs.requests(http.MethodGet, true)
	if gets[0].path != "/arn-bucket/dir/key.txt" || gets[0].query.Get("versionId") != "v1" {
		t.Errorf("bucket ARN fetched %s?%s", gets[0].path, gets[0].query.Encode())
	}
	if _, region := signedAs(gets[0].header); region != "us-east-2" {
		t.Errorf("bucket ARN signed for %q, want the bucket's region us-east-2", region)
	}

	got, err = f.FetchBytes(ctx, Request{URL: "arn:aws:s3:us-west-2:123456789012:accesspoint/my-ap/object/dir/ap key.txt"}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "via access point" {
		t.Fatalf("access point ARN: got %q", got)
	}
	gets = fs.requests(http.MethodGet, true)
	if len(gets) != 2 || gets[1].path != "/my-ap-123456789012/dir/ap key.txt" {
		t.Fatalf("access point requests: %+v", gets)
	}
	if key, region := signedAs(gets[1].header); key != fi.accessKey || region != "us-west-2" {
		t.Errorf("access point signed as %q for %q, want the ARN's region us-west-2", key, region)
	}
	if n := len(fs.requests(http.MethodHead, false)); n != 1 {
		t.Errorf("%d HeadBucket requests, want 1 (none for the access point)", n)
	}
}

func TestS3ParseLocation(t *testing.T) {
	ok := []struct {
		url  string
		want s3Location
	}{
		{"s3://b/k", s3Location{bucket: "b", key: "k"}},
		{"s3://b/a/b%2Fc%20d?versionId=v%2B1", s3Location{bucket: "b", key: "a/b/c d", versionID: "v+1"}},
		{"arn:aws:s3:::b/dir/k", s3Location{bucket: "b", key: "dir/k", partition: "aws"}},
		{"arn:aws-cn:s3:::b/k?versionId=x", s3Location{bucket: "b", key: "k", versionID: "x", partition: "aws-cn"}},
		{"arn:aws:s3:eu-west-1:111122223333:accesspoint/ap/object/a/b:c", s3Location{
			bucket: "arn:aws:s3:eu-west-1:111122223333:accesspoint/ap", key: "a/b:c", partition: "aws", region: "eu-west-1", accessPoint: true}},
	}
	for _, c := range ok {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseS3Location(u)
		if err != nil || got != c.want {
			t.Errorf("%s: got %+v, %v; want %+v", c.url, got, err, c.want)
		}
	}
	bad := []string{
		"s3://b", "s3://b/", "s3:///k", "s3://b/k?acl=1", "s3://user@b/k",
		"arn:aws:s3:::b", "arn:aws:s3:::b/", "arn:aws:ec2:::b/k", "arn:aws:s3:us-east-1::b/k",
		"arn:aws:s3::123456789012:accesspoint/mrap.mrap/object/k",
		"arn:aws:s3:us-east-1:123456789012:accesspoint/ap", "arn:aws:s3:us-east-1:123456789012:accesspoint/ap/object/",
		"arn:aws:s3:us-east-1::accesspoint/ap/object/k", "arn:aws:s3",
	}
	for _, raw := range bad {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		if got, err := parseS3Location(u); err == nil {
			t.Errorf("%s: accepted as %+v", raw, got)
		}
	}
}

func TestS3NoSuchKeyIsFinal(t *testing.T) {
	fs := newFakeS3(t)
	fi := newFakeIMDS(t, "", "")
	fs.set(func(fs *fakeS3) { fs.regions["b"] = "us-east-1" })
	f := newS3TestFetcher(t, fs.srv.URL, fi.srv.URL)

	start := time.Now()
	_, err := f.FetchBytes(s3TestContext(t), Request{URL: "s3://b/missing.ign"}, 1<<20)
	if err == nil || IsRetryable(err) {
		t.Fatalf("got %v, want a final error", err)
	}
	if !strings.Contains(err.Error(), `object "missing.ign" in S3 bucket "b" does not exist`) || !strings.Contains(err.Error(), "NoSuchKey") {
		t.Errorf("unclear error: %v", err)
	}
	if n := len(fs.requests(http.MethodGet, true)); n != 1 {
		t.Errorf("GetObject sent %d times, want 1", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}

	// A bucket that does not exist is final too.
	_, err = f.FetchBytes(s3TestContext(t), Request{URL: "s3://no-such-bucket/k"}, 1<<20)
	if err == nil || IsRetryable(err) || !strings.Contains(err.Error(), `bucket "no-such-bucket" does not exist`) {
		t.Fatalf("missing bucket: got %v", err)
	}
}

func TestS3AccessDeniedIsFinal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amz-Bucket-Region", "us-east-1")
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		s3ErrorXML(w, http.StatusForbidden, "AccessDenied", "Access Denied")
	}))
	defer srv.Close()
	fi := newFakeIMDS(t, "", "")
	f := newS3TestFetcher(t, srv.URL, fi.srv.URL)
	_, err := f.FetchBytes(s3TestContext(t), Request{URL: "s3://private/k"}, 1<<20)
	if err == nil || IsRetryable(err) || !strings.Contains(err.Error(), "access denied") || !strings.Contains(err.Error(), "anonymously") {
		t.Fatalf("got %v", err)
	}
}

func TestS3RetriesTransientErrors(t *testing.T) {
	fs := newFakeS3(t)
	fi := newFakeIMDS(t, "", "")
	data := []byte("eventually")
	fs.put("b", "k", data)
	fs.set(func(fs *fakeS3) { fs.regions["b"] = "us-east-1" })
	fs.set(func(fs *fakeS3) {
		fs.failures = []s3Failure{
			{http.StatusServiceUnavailable, "SlowDown"},
			{http.StatusInternalServerError, "SomethingNew"},
			{http.StatusTooManyRequests, "TooManyRequests"},
			{http.StatusBadRequest, "RequestTimeout"},
		}
	})
	f := newS3TestFetcher(t, fs.srv.URL, fi.srv.URL)

	got, err := f.FetchBytes(s3TestContext(t), Request{URL: "s3://b/k", Hash: cloudSHA512(data)}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(data) {
		t.Fatalf("got %q", got)
	}
	if n := len(fs.requests(http.MethodGet, true)); n != 5 {
		t.Errorf("GetObject sent %d times, want 5 (four transient failures, then success)", n)
	}
}

func TestS3ResumesWithRange(t *testing.T) {
	fs := newFakeS3(t)
	fi := newFakeIMDS(t, "", "")
	data := cloudRandom(1<<20, 2)
	fs.put("b", "big.img", data)
	fs.set(func(fs *fakeS3) { fs.regions["b"] = "us-east-1" })
	fs.set(func(fs *fakeS3) { fs.cutAt = 300_000 })
	f := newS3TestFetcher(t, fs.srv.URL, fi.srv.URL)

	got, err := f.FetchBytes(s3TestContext(t), Request{URL: "s3://b/big.img", Hash: cloudSHA512(data)}, 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(data) {
		t.Fatal("bytes differ")
	}
	gets := fs.requests(http.MethodGet, true)
	if len(gets) != 2 {
		t.Fatalf("GetObject sent %d times, want 2 (cut, then resumed)", len(gets))
	}
	if rg := gets[1].header.Get("Range"); rg != "bytes=300000-" {
		t.Errorf("resumed with Range %q, want bytes=300000-", rg)
	}
	if im := gets[1].header.Get("If-Match"); im != etagOf(data) {
		t.Errorf("resumed with If-Match %q, want %q", im, etagOf(data))
	}
}

func TestS3ResumeRefusedStartsOver(t *testing.T) {
	// The object changes while it is being fetched: the resume is refused
	// (412), and the fetch starts over and gets the new object whole.
	fs := newFakeS3(t)
	fi := newFakeIMDS(t, "", "")
	old := cloudRandom(200_000, 3)
	fs.put("b", "k", old)
	fs.set(func(fs *fakeS3) { fs.regions["b"] = "us-east-1" })
	fs.set(func(fs *fakeS3) { fs.cutAt = 100_000 })
	newer := cloudRandom(150_000, 4)
	var once sync.Once
	fs.set(func(fs *fakeS3) { fs.onRange = func() { once.Do(func() { fs.put("b", "k", newer) }) } })
	f := newS3TestFetcher(t, fs.srv.URL, fi.srv.URL)

	got, err := f.FetchBytes(s3TestContext(t), Request{URL: "s3://b/k", Hash: cloudSHA512(newer)}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(newer) {
		t.Fatal("bytes differ")
	}
	gets := fs.requests(http.MethodGet, true)
	if len(gets) != 3 || gets[1].header.Get("Range") == "" || gets[2].header.Get("Range") != "" {
		t.Errorf("want full GET, refused ranged GET, full GET; got %d requests", len(gets))
	}
}

func TestS3BucketLocationFallback(t *testing.T) {
	fs := newFakeS3(t)
	fi := newFakeIMDS(t, "role", "")
	fs.put("b", "k", []byte("x"))
	fs.set(func(fs *fakeS3) { fs.regions["b"] = "eu-west-3" })
	fs.set(func(fs *fakeS3) { fs.hideRegion = true })
	f := newS3TestFetcher(t, fs.srv.URL, fi.srv.URL)

	if _, err := f.FetchBytes(s3TestContext(t), Request{URL: "s3://b/k"}, 1<<20); err != nil {
		t.Fatal(err)
	}
	var locs int
	for _, s := range fs.requests(http.MethodGet, false) {
		if s.query.Has("location") {
			locs++
			if _, region := signedAs(s.header); region != "us-east-1" {
				t.Errorf("GetBucketLocation signed for %q, want us-east-1", region)
			}
		}
	}
	if locs != 1 {
		t.Errorf("GetBucketLocation sent %d times, want 1", locs)
	}
	gets := fs.requests(http.MethodGet, true)
	if _, region := signedAs(gets[0].header); region != "eu-west-3" {
		t.Errorf("GetObject signed for %q, want eu-west-3", region)
	}
}

func TestS3NoIMDSDoesNotHang(t *testing.T) {
	// An IMDS address that accepts connections and never answers: the
	// probe gives up quickly, requests go out anonymously, and the
	// decision is kept.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var connsMu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			connsMu.Lock()
			conns = append(conns, c)
			connsMu.Unlock()
		}
	}()
	defer func() {
		connsMu.Lock()
		defer connsMu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()

	fs := newFakeS3(t)
	fs.put("b", "k", []byte("anonymous"))
	fs.set(func(fs *fakeS3) { fs.regions["b"] = "us-east-1" })
	f := newS3TestFetcher(t, fs.srv.URL, "http://"+ln.Addr().String())
	f.schemes["s3"].(*s3Scheme).probeTimeout = 300 * time.Millisecond

	ctx := s3TestContext(t)
	start := time.Now()
	for range 2 {
		got, err := f.FetchBytes(ctx, Request{URL: "s3://b/k"}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "anonymous" {
			t.Fatalf("got %q", got)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("two fetches took %v with a silent IMDS", d)
	}
	for _, s := range fs.all() {
		if s.header.Get("Authorization") != "" {
			t.Errorf("%s %s signed", s.method, s.path)
		}
	}
}

func TestS3NetworkErrorIsRetryable(t *testing.T) {
	// Nothing listens at the S3 endpoint: connection refused is worth
	// retrying (the network may not be up); the fetch gives up only when
	// its time is up.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	fi := newFakeIMDS(t, "", "")
	f, err := New(Options{
		RetryMin:  5 * time.Millisecond,
		RetryMax:  20 * time.Millisecond,
		Total:     500 * time.Millisecond,
		Endpoints: Endpoints{S3: "http://" + addr, EC2Metadata: fi.srv.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.FetchBytes(s3TestContext(t), Request{URL: "s3://b/k"}, 1<<20)
	if err == nil || !strings.Contains(err.Error(), "gave up") {
		t.Fatalf("got %v, want retries until the total timeout", err)
	}
}

func TestS3RegionFromRedirect(t *testing.T) {
	// S3 answers HeadBucket in the wrong region with 301 and the bucket's
	// region: that is enough, no GetBucketLocation.
	fs := newFakeS3(t)
	fi := newFakeIMDS(t, "role", "")
	fs.put("b", "k", []byte("x"))
	fs.set(func(fs *fakeS3) {
		fs.regions["b"] = "sa-east-1"
		fs.headStatus = http.StatusMovedPermanently
	})
	f := newS3TestFetcher(t, fs.srv.URL, fi.srv.URL)
	if _, err := f.FetchBytes(s3TestContext(t), Request{URL: "s3://b/k"}, 1<<20); err != nil {
		t.Fatal(err)
	}
	if n := len(fs.requests(http.MethodGet, false)); n != 0 {
		t.Errorf("%d bucket GETs (GetBucketLocation), want 0", n)
	}
	gets := fs.requests(http.MethodGet, true)
	if _, region := signedAs(gets[0].header); region != "sa-east-1" {
		t.Errorf("GetObject signed for %q, want sa-east-1", region)
	}
}

func TestS3FailingIMDSIsAskedAgain(t *testing.T) {
	// The IMDS fails for a while (longer than one probe): the fetch waits
	// for it and is signed, rather than going out anonymously for good.
	fs := newFakeS3(t)
	fi := newFakeIMDS(t, "role", "")
	fi.mu.Lock()
	fi.failUntil = time.Now().Add(400 * time.Millisecond)
	fi.mu.Unlock()
	fs.put("b", "k", []byte("x"))
	fs.set(func(fs *fakeS3) { fs.regions["b"] = "us-east-1" })
	f := newS3TestFetcher(t, fs.srv.URL, fi.srv.URL)
	f.schemes["s3"].(*s3Scheme).probeTimeout = 150 * time.Millisecond
	if _, err := f.FetchBytes(s3TestContext(t), Request{URL: "s3://b/k"}, 1<<20); err != nil {
		t.Fatal(err)
	}
	for _, s := range fs.all() {
		if key, _ := signedAs(s.header); key != fi.accessKey {
			t.Errorf("%s %s signed as %q", s.method, s.path, key)
		}
	}
	if list, _, _ := fi.calls(); list < 2 {
		t.Errorf("role list asked %d times; the failures were not exercised", list)
	}
}
