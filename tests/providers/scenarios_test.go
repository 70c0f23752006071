package providers_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"
)

// userConfig is a platform's user config: it adds /etc/from-<platform>.
func userConfig(platform string) []byte {
	return []byte(`{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/etc/from-` + platform +
		`", "contents": {"source": "data:,user"}}]}}`)
}

// garbage fails to parse at line 2.
const garbage = "{\"ignition\": {\"version\": \"3.4.0\"},\n  \"storage\": nope}\n"

// standardScenarios are what every HTTP provider is run through.
func standardScenarios(t *testing.T, p platformSpec) []scenario {
	base := func(name string, f fake) scenario {
		var binds map[string]string
		if p.binds != nil {
			binds = p.binds(t)
		}
		return scenario{
			binds:    binds,
			name:     p.platform + "/" + name,
			platform: p.platform,
			addrs:    p.addrs,
			tlsNames: p.tlsNames,
			hosts:    p.hosts,
			handler:  f,
		}
	}
	user := []string{baseFile, "/etc/from-" + p.platform}
	var scs []scenario

	f := p.newFake()
	f.ud().body = p.encode(userConfig(p.platform))
	sc := base("config served", f)
	sc.wantFiles = user
	sc.check = hits(f.ud(), 1)
	scs = append(scs, sc)

	f = p.newFake()
	f.ud().body = p.encode(gzipped(t, userConfig(p.platform)))
	sc = base("gzip user data", f)
	sc.wantFiles = user
	scs = append(scs, sc)

	f = p.newFake()
	p.none(f.ud())
	sc = base("no user data", f)
	sc.wantFiles = []string{baseFile}
	sc.wantLog = []string{`platform "` + p.platform + `": the platform provides no config`, "using the base configs only"}
	scs = append(scs, sc)

	f = p.newFake()
	f.ud().statuses = []int{http.StatusInternalServerError, http.StatusServiceUnavailable}
	f.ud().body = p.encode(userConfig(p.platform))
	sc = base("server errors, then the config", f)
	sc.wantFiles = user
	sc.check = hits(f.ud(), 3)
	scs = append(scs, sc)

	f = p.newFake()
	f.ud().body = p.encode([]byte(garbage))
	sc = base("garbage user data", f)
	sc.wantFailure = regexp.MustCompile(`Ignition failed: fetch: platform "` + p.platform + `": .*line 2 col \d+`)
	scs = append(scs, sc)

	// The fake is there, but fetch-offline must not ask it.
	f = p.newFake()
	f.ud().body = p.encode(userConfig(p.platform))
	sc = base("fetch-offline needs the network", f)
	sc.stage = "fetch-offline"
	sc.wantNeedNet = true
	sc.check = hits(f.ud(), 0)
	scs = append(scs, sc)

	sc = base("unreachable", nil)
	sc.handler = nil
	sc.fetchTimeout = 3 * time.Second
	sc.maxTime = 8*time.Second + p.reportTime
	sc.wantFailure = regexp.MustCompile(`gave up after -fetch-timeout 3s: .*` + regexp.QuoteMeta(p.host))
	scs = append(scs, sc)
	return scs
}

// hits checks that the fake served the user data n times.
func hits(f *userDataFake, n int) func(t *testing.T) {
	return func(t *testing.T) {
		if got := f.hits.Load(); int(got) != n {
			t.Errorf("the fake served the user data path %d times, want %d", got, n)
		}
		if got := f.refused.Load(); got != 0 {
			t.Errorf("the fake refused %d requests", got)
		}
	}
}

func TestProviders(t *testing.T) {
	var scs []scenario
	for _, p := range specs {
		scs = append(scs, standardScenarios(t, p)...)
	}
	runScenarios(t, scs)
}

// TestProvidersSpecial are the scenarios particular to one platform.
func TestProvidersSpecial(t *testing.T) {
	v1 := newAWSFake(true)
	v1.body = userConfig("aws")
	v2 := newAWSFake(false)
	v2.body = userConfig("aws")

	azure := specByName(t, "azure").newFake().ud()
	azure.statuses = []int{http.StatusNotFound, http.StatusGone, http.StatusTooManyRequests}
	azure.body = specByName(t, "azure").encode(userConfig("azure"))

	akamai := newAkamaiFake()
	akamai.body = base64Encoded(userConfig("akamai"))
	dataServer := &userDataFake{path: "/latest/user-data", body: userConfig("cloudstack")}

	runScenarios(t, []scenario{
		{
			name:      "akamai/one token for the user data",
			platform:  "akamai",
			addrs:     []string{metadataIP + ":80"},
			handler:   akamai,
			wantFiles: []string{baseFile, "/etc/from-akamai"},
			check: func(t *testing.T) {
				if akamai.tokenPuts.Load() != 1 || akamai.hits.Load() != 1 || akamai.refused.Load() != 0 {
					t.Errorf("token PUTs %d, user data GETs %d, refused %d; want 1, 1, 0",
						akamai.tokenPuts.Load(), akamai.hits.Load(), akamai.refused.Load())
				}
			},
		},
		{
			// Without a lease the router is found by its DNS name.
			name:      "cloudstack/no DHCP lease: data-server",
			platform:  "cloudstack",
			addrs:     []string{"10.50.0.9:80"},
			hosts:     map[string]string{"data-server": "10.50.0.9"},
			binds:     dhcpLeases(t, ""),
			handler:   dataServer,
			wantFiles: []string{baseFile, "/etc/from-cloudstack"},
			wantLog:   []string{"no DHCP lease found; using data-server", "http://data-server/latest/user-data"},
			check:     hits(dataServer, 1),
		},
		{
			name:      "aws/IMDSv1 only",
			platform:  "aws",
			addrs:     []string{metadataIP + ":80"},
			handler:   v1,
			wantFiles: []string{baseFile, "/etc/from-aws"},
			wantLog:   []string{"reading the user data with IMDSv1"},
			check: func(t *testing.T) {
				if v1.tokenPuts.Load() != 1 {
					t.Errorf("token asked for %d times, want once", v1.tokenPuts.Load())
				}
			},
		},
		{
			name:      "aws/one token for the user data",
			platform:  "aws",
			addrs:     []string{metadataIP + ":80"},
			handler:   v2,
			wantFiles: []string{baseFile, "/etc/from-aws"},
			check: func(t *testing.T) {
				if v2.tokenPuts.Load() != 1 || v2.hits.Load() != 1 || v2.refused.Load() != 0 {
					t.Errorf("token PUTs %d, user data GETs %d, refused %d; want 1, 1, 0",
						v2.tokenPuts.Load(), v2.hits.Load(), v2.refused.Load())
				}
			},
		},
		{
			// No UDF or ISO 9660 filesystem on this host: no custom data.
			name:      "azurestack/no provisioning CD",
			platform:  "azurestack",
			wantFiles: []string{baseFile},
			wantLog:   []string{"no provisioning CD with ovf-env.xml", "using the base configs only"},
		},
		{
			name:      "azure/404, 410 and 429 are retried",
			platform:  "azure",
			addrs:     []string{metadataIP + ":80"},
			handler:   azure,
			wantFiles: []string{baseFile, "/etc/from-azure"},
			check:     hits(azure, 4),
		},
	})
}

func specByName(t *testing.T, name string) platformSpec {
	for _, p := range specs {
		if p.platform == name {
			return p
		}
	}
	t.Fatalf("no platform spec %q", name)
	return platformSpec{}
}

// TestFakesRefuse proves that the fakes refuse a request lacking what the
// real service requires, so the scenarios that pass prove the provider
// sends it. It needs no namespace.
func TestFakesRefuse(t *testing.T) {
	for _, p := range specs {
		if p.refused == nil {
			continue
		}
		t.Run(p.platform, func(t *testing.T) {
			f := p.newFake()
			f.ud().body = []byte("secret")
			w := httptest.NewRecorder()
			f.ServeHTTP(w, p.refused())
			if w.Code < 400 || w.Code >= 500 || w.Body.String() == "secret" {
				t.Errorf("answered %d %q, want a refusal", w.Code, w.Body.String())
			}
			if f.ud().refused.Load() != 1 {
				t.Errorf("refused %d requests, want 1", f.ud().refused.Load())
			}
		})
	}
}
