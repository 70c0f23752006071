package providers_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ec2Fake is EC2's IMDS with what the S3 fetcher asks of it besides the
// user data: the instance role and its credentials, and the region (in
// the instance identity document). Like the real one with IMDSv2
// required, it wants the session token on every path.
type ec2Fake struct {
	*awsFake
	region string
	role   string // "" for none
}

func newEC2Fake(region, role string) *ec2Fake {
	return &ec2Fake{awsFake: newAWSFake(false), region: region, role: role}
}

func (f *ec2Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/latest/meta-data/") && !strings.HasPrefix(p, "/latest/dynamic/") {
		f.awsFake.ServeHTTP(w, r)
		return
	}
	if r.Header.Get("X-aws-ec2-metadata-token") != awsToken {
		f.refused.Add(1)
		http.Error(w, "token required", http.StatusUnauthorized)
		return
	}
	switch {
	case p == "/latest/dynamic/instance-identity/document":
		fmt.Fprintf(w, `{"accountId": "111122223333", "instanceId": "i-0123456789abcdef0", "region": %q, "availabilityZone": "%sa"}`, f.region, f.region)
	case p == "/latest/meta-data/iam/security-credentials/" && f.role != "":
		fmt.Fprintln(w, f.role)
	case f.role != "" && p == "/latest/meta-data/iam/security-credentials/"+f.role:
		fmt.Fprintf(w, `{"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "AKIDFAKE", "SecretAccessKey": "fake-secret", "Token": "fake-session", "LastUpdated": %q, "Expiration": %q}`,
			time.Now().UTC().Format(time.RFC3339), time.Now().Add(6*time.Hour).UTC().Format(time.RFC3339))
	default:
		http.NotFound(w, r)
	}
}

// s3Fake is S3 in one region: it answers only for its bucket at the
// region's virtual-hosted endpoint, and only requests signed for its
// region (with signed set) or unsigned ones (without).
type s3Fake struct {
	region, suffix string // e.g. "eu-west-3", "amazonaws.com"
	bucket, key    string
	body           []byte
	signed         bool

	gets    atomic.Int32
	refused atomic.Int32
	mu      sync.Mutex
	why     []string // why requests were refused
}

func (f *s3Fake) host() string { return f.bucket + ".s3." + f.region + "." + f.suffix }

// credentialScope finds the region of a SigV4 Authorization header.
var credentialScope = regexp.MustCompile(`Credential=[^/]+/\d{8}/([^/]+)/s3/aws4_request`)

func (f *s3Fake) refuse(w http.ResponseWriter, status int, why string) {
	f.refused.Add(1)
	f.mu.Lock()
	f.why = append(f.why, why)
	f.mu.Unlock()
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>%s</Message></Error>`, why)
}

func (f *s3Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if host := strings.Split(r.Host, ":")[0]; host != f.host() {
		f.refuse(w, http.StatusMisdirectedRequest, "asked at "+host+", not "+f.host())
		return
	}
	auth := r.Header.Get("Authorization")
	switch m := credentialScope.FindStringSubmatch(auth); {
	case f.signed && m == nil:
		f.refuse(w, http.StatusForbidden, "unsigned request")
		return
	case !f.signed && auth != "":
		f.refuse(w, http.StatusForbidden, "signed request to a public bucket")
		return
	case m != nil && m[1] != f.region:
		f.refuse(w, http.StatusBadRequest, "signed for region "+m[1])
		return
	}
	w.Header().Set("X-Amz-Bucket-Region", f.region)
	switch {
	case r.Method == http.MethodHead && r.URL.Path == "/":
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet && r.URL.Path == "/"+f.key:
		f.gets.Add(1)
		w.Header().Set("ETag", `"fake-etag"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(f.body)))
		w.Write(f.body)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code></Error>`)
	}
}

// TestS3InInstanceRegion runs the aws platform with a user config that
// merges a config from s3://. S3 exists only at the instance's own
// region's endpoint, and the fake S3 refuses requests signed for another
// region, so the config arrives only if the fetcher learned the region
// (and from it the partition: an s3:// URL on an instance in China means a
// bucket in the aws-cn partition) from the IMDS.
func TestS3InInstanceRegion(t *testing.T) {
	parent := []byte(`{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": "s3://ign-bucket/child.ign"}]}},
		"storage": {"files": [{"path": "/etc/from-aws", "contents": {"source": "data:,user"}}]}}`)
	const s3IP = "169.254.80.3"

	cases := []struct {
		name, region, suffix, role string
	}{
		{"aws/s3 child from the instance's region, anonymous", "eu-west-3", "amazonaws.com", ""},
		{"aws/s3 child from the instance's region, instance role", "ap-southeast-2", "amazonaws.com", "ign-role"},
		{"aws/s3 child in the aws-cn partition", "cn-northwest-1", "amazonaws.com.cn", "ign-role"},
	}
	var scs []scenario
	for _, c := range cases {
		imds := newEC2Fake(c.region, c.role)
		imds.body = parent
		s3 := &s3Fake{region: c.region, suffix: c.suffix, bucket: "ign-bucket", key: "child.ign",
			body: userConfig("s3"), signed: c.role != ""}
		scs = append(scs, scenario{
			name:     c.name,
			platform: "aws",
			addrs:    []string{metadataIP + ":80"},
			handler:  imds,
			services: []service{{addrs: []string{s3IP + ":443"}, tlsNames: []string{s3.host()}, handler: s3}},
			hosts:    map[string]string{s3.host(): s3IP},
			// The S3 scheme gives up on the IMDS after 2 s; the rest is
			// retrying a wrong endpoint, which should not happen.
			fetchTimeout: 20 * time.Second,
			wantFiles:    []string{baseFile, "/etc/from-aws", "/etc/from-s3"},
			check: func(t *testing.T) {
				if s3.gets.Load() != 1 || s3.refused.Load() != 0 {
					t.Errorf("S3 GETs %d, refused %d %q; want 1, 0", s3.gets.Load(), s3.refused.Load(), s3.why)
				}
				if imds.refused.Load() != 0 {
					t.Errorf("the IMDS refused %d requests", imds.refused.Load())
				}
			},
		})
	}
	runScenarios(t, scs)
}
