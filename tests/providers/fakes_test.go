package providers_test

// Fake metadata services. Each refuses requests that lack what the real
// service requires (a header, a token, a privileged source port, the
// right Host), so a scenario that gets its config proves the provider
// sent it; TestFakesRefuse proves the fakes do refuse.

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// userDataFake serves user data at one path. Requests that require
// refuses get its status; the first len(statuses) others get those
// statuses, and the rest final (200 if 0) with body when it is 200.
type userDataFake struct {
	path     string
	query    url.Values // must all be present
	require  func(r *http.Request) (status int, why string)
	statuses []int
	final    int
	body     []byte

	hits    atomic.Int32 // user-data requests not refused
	refused atomic.Int32
}

func (f *userDataFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != f.path || r.Method != http.MethodGet {
		http.Error(w, "no such thing here", http.StatusNotFound)
		return
	}
	for k, v := range f.query {
		if r.URL.Query().Get(k) != v[0] {
			f.refused.Add(1)
			http.Error(w, fmt.Sprintf("query %s must be %s", k, v[0]), http.StatusBadRequest)
			return
		}
	}
	if f.require != nil {
		if status, why := f.require(r); status != 0 {
			f.refused.Add(1)
			http.Error(w, why, status)
			return
		}
	}
	n := int(f.hits.Add(1))
	status := f.final
	if n <= len(f.statuses) {
		status = f.statuses[n-1]
	}
	if status == 0 {
		status = http.StatusOK
	}
	if status != http.StatusOK {
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.Write(f.body)
}

// needHeader refuses requests without header name: value.
func needHeader(name, value string, status int) func(r *http.Request) (int, string) {
	return func(r *http.Request) (int, string) {
		if r.Header.Get(name) != value {
			return status, fmt.Sprintf("header %s: %s required", name, value)
		}
		return 0, ""
	}
}

// awsToken is the IMDSv2 session token the AWS fake hands out.
const awsToken = "AQAEAFake-token=="

// awsFake is EC2's IMDS: the user data, and the IMDSv2 token endpoint
// unless v1Only (an IMDS without IMDSv2 answers the token PUT with 404).
type awsFake struct {
	*userDataFake
	v1Only    bool
	tokenPuts atomic.Int32
}

func newAWSFake(v1Only bool) *awsFake {
	f := &awsFake{userDataFake: &userDataFake{path: "/latest/user-data"}, v1Only: v1Only}
	if !v1Only {
		f.require = needHeader("X-aws-ec2-metadata-token", awsToken, http.StatusUnauthorized)
	}
	return f
}

func (f *awsFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/latest/api/token" {
		f.userDataFake.ServeHTTP(w, r)
		return
	}
	f.tokenPuts.Add(1)
	switch {
	case f.v1Only:
		http.NotFound(w, r)
	case r.Method != http.MethodPut:
		http.Error(w, "PUT only", http.StatusMethodNotAllowed)
	case r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "":
		http.Error(w, "missing the TTL header", http.StatusBadRequest)
	default:
		ttl, err := strconv.Atoi(r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
		if err != nil || ttl < 1 || ttl > 21600 {
			http.Error(w, "bad TTL", http.StatusBadRequest)
			return
		}
		// The IMDS says how long the token lives; the AWS SDK's client
		// does not use a token without it.
		w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", strconv.Itoa(ttl))
		fmt.Fprint(w, awsToken)
	}
}

// akamaiToken is the session token the Akamai fake hands out.
const akamaiToken = "akamai-fake-token"

// akamaiFake is Akamai's (Linode's) metadata service: PUT /v1/token with
// Metadata-Token-Expiry-Seconds gives a token, which GET /v1/user-data
// wants in Metadata-Token.
type akamaiFake struct {
	*userDataFake
	tokenPuts atomic.Int32
}

func newAkamaiFake() *akamaiFake {
	return &akamaiFake{userDataFake: &userDataFake{
		path:    "/v1/user-data",
		require: needHeader("Metadata-Token", akamaiToken, http.StatusUnauthorized),
	}}
}

func (f *akamaiFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/token" {
		f.userDataFake.ServeHTTP(w, r)
		return
	}
	f.tokenPuts.Add(1)
	ttl, err := strconv.Atoi(r.Header.Get("Metadata-Token-Expiry-Seconds"))
	switch {
	case r.Method != http.MethodPut:
		http.Error(w, "PUT only", http.StatusMethodNotAllowed)
	case err != nil || ttl < 1:
		http.Error(w, "Metadata-Token-Expiry-Seconds required", http.StatusBadRequest)
	default:
		fmt.Fprint(w, akamaiToken)
	}
}

// fake is a platform's fake with what scenarios set on it.
type fake interface {
	http.Handler
	ud() *userDataFake
}

func (f *userDataFake) ud() *userDataFake { return f }

// platformSpec is what the standard scenarios need of a platform.
type platformSpec struct {
	platform string
	addrs    []string
	tlsNames []string
	hosts    map[string]string
	// host is what an unreachable service's failure must name.
	host string
	// newFake makes the fake service.
	newFake func() fake
	// encode turns a config into what the service serves (Azure: base64).
	encode func([]byte) []byte
	// none makes the fake say there is no user data.
	none func(f *userDataFake)
	// refused is a request the fake must refuse, for TestFakesRefuse;
	// nil when the service requires nothing.
	refused func() *http.Request
	// reportTime is how much longer than the fetch timeout a failed run
	// may take: the time the platform gives reporting the failure.
	reportTime time.Duration
	// binds, when set, gives each scenario's bind mounts (scenario.binds).
	binds func(t *testing.T) map[string]string
}

var metadataIP = "169.254.169.254"

func plain(b []byte) []byte { return b }

func notFound(f *userDataFake) { f.final = http.StatusNotFound }

func base64Encoded(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }

// plainService is a metadata service that serves the user data at path
// with a plain GET, and 404 when there is none.
func plainService(platform, addr, path string) platformSpec {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err)
	}
	return platformSpec{
		platform: platform,
		addrs:    []string{addr},
		host:     host,
		newFake:  func() fake { return &userDataFake{path: path} },
		encode:   plain,
		none:     notFound,
	}
}

// cloudstackRouter is the DHCP server, and so the metadata service, of
// the CloudStack scenarios.
const cloudstackRouter = "10.50.0.1"

// leaseDirs are where DHCP clients keep leases (cloudstack reads them).
var leaseDirs = []string{"/run/systemd/netif/leases", "/run/NetworkManager/devices", "/var/lib/dhclient", "/var/lib/dhcp"}

// dhcpLeases hides the host's DHCP leases from the run, and shows it
// one systemd-networkd lease from server instead ("" for none). It
// skips when the host has no networkd lease directory to mount over.
func dhcpLeases(t *testing.T, server string) map[string]string {
	t.Helper()
	binds := map[string]string{}
	for _, d := range leaseDirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			binds[d] = t.TempDir()
		}
	}
	networkd := leaseDirs[0]
	if server == "" {
		return binds
	}
	if binds[networkd] == "" {
		t.Skipf("%s does not exist on this host, so there is nothing to mount a DHCP lease over", networkd)
	}
	writeFile(t, filepath.Join(binds[networkd], "2"),
		"# This is private data. Do not parse.\nADDRESS=10.50.0.23\nSERVER_ADDRESS="+server+"\nROUTER="+server+"\n")
	return binds
}

var specs = []platformSpec{
	{
		platform: "aws",
		addrs:    []string{metadataIP + ":80"},
		host:     metadataIP,
		newFake:  func() fake { return newAWSFake(false) },
		encode:   plain,
		none:     notFound,
		refused: func() *http.Request {
			return mustRequest("GET", "http://169.254.169.254/latest/user-data", nil)
		},
	},
	{
		platform: "akamai",
		addrs:    []string{metadataIP + ":80"},
		host:     metadataIP,
		newFake:  func() fake { return newAkamaiFake() },
		encode:   base64Encoded,
		none:     notFound,
		refused: func() *http.Request {
			return mustRequest("GET", "http://169.254.169.254/v1/user-data", nil)
		},
	},
	plainService("aliyun", "100.100.100.200:80", "/latest/user-data"),
	{
		platform: "azure",
		addrs:    []string{metadataIP + ":80"},
		host:     metadataIP,
		newFake: func() fake {
			return &userDataFake{
				path:    "/metadata/instance/compute/userData",
				query:   url.Values{"api-version": {"2021-01-01"}, "format": {"text"}},
				require: needHeader("Metadata", "true", http.StatusBadRequest),
			}
		},
		encode: func(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) },
		// No user data is an empty answer: 404 is one of the codes
		// Azure says to retry.
		none: func(f *userDataFake) { f.body = nil },
		refused: func() *http.Request {
			return mustRequest("GET", "http://169.254.169.254/metadata/instance/compute/userData?api-version=2021-01-01&format=text", nil)
		},
	},
	plainService("brightbox", metadataIP+":80", "/latest/user-data"),
	func() platformSpec {
		p := plainService("cloudstack", cloudstackRouter+":80", "/latest/user-data")
		p.binds = func(t *testing.T) map[string]string { return dhcpLeases(t, cloudstackRouter) }
		return p
	}(),
	{
		platform: "digitalocean",
		addrs:    []string{metadataIP + ":80"},
		host:     metadataIP,
		newFake:  func() fake { return &userDataFake{path: "/metadata/v1/user-data"} },
		encode:   plain,
		none:     notFound,
	},
	plainService("exoscale", metadataIP+":80", "/1.0/user-data"),
	{
		platform: "gcp",
		addrs:    []string{metadataIP + ":80"},
		host:     metadataIP,
		newFake: func() fake {
			return &userDataFake{
				path:    "/computeMetadata/v1/instance/attributes/user-data",
				require: needHeader("Metadata-Flavor", "Google", http.StatusForbidden),
			}
		},
		encode: plain,
		none:   notFound,
		refused: func() *http.Request {
			return mustRequest("GET", "http://169.254.169.254/computeMetadata/v1/instance/attributes/user-data", nil)
		},
	},
	{
		platform: "hetzner",
		addrs:    []string{metadataIP + ":80"},
		host:     metadataIP,
		newFake:  func() fake { return &userDataFake{path: "/hetzner/v1/userdata"} },
		encode:   plain,
		none:     notFound,
	},
	// No config drive on this host: the metadata service answers.
	plainService("openstack", metadataIP+":80", "/openstack/latest/user_data"),
	{
		platform: "oraclecloud",
		addrs:    []string{metadataIP + ":80"},
		host:     metadataIP,
		newFake: func() fake {
			return &userDataFake{
				path:    "/opc/v2/instance/metadata/user_data",
				require: needHeader("Authorization", "Bearer Oracle", http.StatusUnauthorized),
			}
		},
		encode: base64Encoded,
		none:   notFound,
		refused: func() *http.Request {
			return mustRequest("GET", "http://169.254.169.254/opc/v2/instance/metadata/user_data", nil)
		},
	},
	{
		platform: "packet",
		// The name resolves, through the namespace's hosts file, to an
		// address where a TLS server with a certificate for it answers.
		addrs:    []string{"169.254.77.77:443"},
		tlsNames: []string{"metadata.platformequinix.com"},
		hosts:    map[string]string{"metadata.platformequinix.com": "169.254.77.77"},
		host:     "metadata.platformequinix.com",
		// An unreachable metadata service has the status report wait out
		// its own timeout (packet.statusTimeout).
		reportTime: 5 * time.Second,
		newFake: func() fake {
			return &userDataFake{
				path: "/userdata",
				require: func(r *http.Request) (int, string) {
					if r.TLS == nil || r.Host != "metadata.platformequinix.com" {
						return http.StatusMisdirectedRequest, "https://metadata.platformequinix.com only"
					}
					return 0, ""
				},
			}
		},
		encode: plain,
		none:   notFound,
		refused: func() *http.Request {
			return mustRequest("GET", "http://169.254.77.77/userdata", nil)
		},
	},
	{
		platform: "scaleway",
		addrs:    []string{"169.254.42.42:80"},
		host:     "169.254.42.42",
		newFake: func() fake {
			return &userDataFake{
				path: "/user_data/cloud-init",
				require: func(r *http.Request) (int, string) {
					_, port, err := net.SplitHostPort(r.RemoteAddr)
					if p, perr := strconv.Atoi(port); err != nil || perr != nil || p >= 1024 {
						return http.StatusForbidden, "user data is only served to privileged ports"
					}
					return 0, ""
				},
			}
		},
		encode: plain,
		none:   notFound,
		refused: func() *http.Request {
			r := mustRequest("GET", "http://169.254.42.42/user_data/cloud-init", nil)
			r.RemoteAddr = "169.254.1.2:40000"
			return r
		},
	},
	plainService("upcloud", metadataIP+":80", "/metadata/v1/user_data"),
	plainService("vultr", metadataIP+":80", "/user-data/user-data"),
}

func mustRequest(method, url string, body []byte) *http.Request {
	r, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	r.RemoteAddr = "169.254.1.2:700"
	return r
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
