package azure

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/distro"
	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

const cfg = `{"ignition": {"version": "3.4.0"}}`

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func gz(t *testing.T, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// ovf is an OVF environment as Azure writes it, with a namespace prefix.
func ovf(customData string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<ns0:Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:ns0="http://schemas.dmtf.org/ovf/environment/1" xmlns:ns1="http://schemas.microsoft.com/windowsazure">
 <ns1:ProvisioningSection>
  <ns1:Version>1.0</ns1:Version>
  <ns1:LinuxProvisioningConfigurationSet>
   <ns1:HostName>vm</ns1:HostName>
   ` + customData + `
  </ns1:LinuxProvisioningConfigurationSet>
 </ns1:ProvisioningSection>
</ns0:Environment>`
}

func TestParseOVF(t *testing.T) {
	for _, tc := range []struct {
		name, xml, want, err string
		found                bool
	}{
		{"custom data", ovf("<ns1:CustomData>" + b64(cfg) + "</ns1:CustomData>"), cfg, "", true},
		{"wrapped base64", ovf("<ns1:CustomData>\n" + b64(cfg)[:10] + "\n  " + b64(cfg)[10:] + "\n</ns1:CustomData>"), cfg, "", true},
		{"no prefix", ovf("<CustomData>" + b64(cfg) + "</CustomData>"), cfg, "", true},
		{"empty element", ovf("<ns1:CustomData></ns1:CustomData>"), "", "", false},
		{"no element", ovf(""), "", "", false},
		{"not base64", ovf("<ns1:CustomData>{not base64}</ns1:CustomData>"), "", "CustomData is not base64", false},
		{"not XML", "<a><b></a>", "", "parsing XML", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, found, err := parseOVF([]byte(tc.xml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || found != tc.found || string(got) != tc.want {
				t.Fatalf("= %q, %v, %v; want %q, %v", got, found, err, tc.want, tc.found)
			}
		})
	}
}

// fakeHost stands in for blkid, mount and umount: drives maps a
// filesystem type to its labelled drives, each with its files, which
// "mount" writes into the mount point and "umount" removes.
type fakeHost struct {
	drives  map[string]map[string]map[string]string // type → label → file → contents
	mounted map[string]string                       // dir → label
	calls   []string
}

func (f *fakeHost) Output(_ context.Context, argv []string) ([]byte, error) {
	f.calls = append(f.calls, strings.Join(argv, " "))
	if argv[0] != distro.BlkidCmd() {
		return nil, fmt.Errorf("unexpected %v", argv)
	}
	last := argv[len(argv)-1]
	switch {
	case strings.HasPrefix(last, "TYPE="):
		var labels []string
		for l := range f.drives[strings.TrimPrefix(last, "TYPE=")] {
			labels = append(labels, l)
		}
		if len(labels) == 0 {
			return nil, errors.New("exit status 2")
		}
		slices.Sort(labels)
		return []byte(strings.Join(labels, "\n") + "\n"), nil
	case strings.HasPrefix(last, "LABEL="):
		label := strings.TrimPrefix(last, "LABEL=")
		for _, byLabel := range f.drives {
			if _, ok := byLabel[label]; ok {
				return []byte("/dev/" + label + "\n"), nil
			}
		}
		return nil, errors.New("exit status 2")
	}
	return nil, fmt.Errorf("unexpected %v", argv)
}

func (f *fakeHost) Run(_ context.Context, argv []string) error {
	f.calls = append(f.calls, strings.Join(argv, " "))
	switch argv[0] {
	case distro.MountCmd():
		dev, dir := argv[len(argv)-2], argv[len(argv)-1]
		label := strings.TrimPrefix(dev, "/dev/")
		for _, byLabel := range f.drives {
			for name, contents := range byLabel[label] {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(contents), 0o644); err != nil {
					return err
				}
			}
		}
		f.mounted[dir] = label
		return nil
	case distro.UmountCmd():
		dir := argv[len(argv)-1]
		if _, ok := f.mounted[dir]; !ok {
			return fmt.Errorf("%s not mounted", dir)
		}
		delete(f.mounted, dir)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			os.Remove(filepath.Join(dir, e.Name()))
		}
		return nil
	}
	return fmt.Errorf("unexpected %v", argv)
}

func host(t *testing.T, f *fakeHost) providers.Host {
	t.Helper()
	fetcher, err := resource.New(resource.Options{RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if f == nil {
		f = &fakeHost{}
	}
	f.mounted = map[string]string{}
	t.Cleanup(func() {
		if len(f.mounted) > 0 {
			t.Errorf("left mounted: %v", f.mounted)
		}
	})
	return providers.Host{Fetcher: fetcher, Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }, Commands: f}
}

func TestCustomData(t *testing.T) {
	for _, tc := range []struct {
		name   string
		drives map[string]map[string]map[string]string
		want   string
		none   bool
		err    string
	}{
		{"UDF provisioning CD", map[string]map[string]map[string]string{
			"udf": {"rd_rdfe_stable.cloudapp.net": {"ovf-env.xml": ovf("<ns1:CustomData>" + b64(cfg) + "</ns1:CustomData>")}},
		}, cfg, false, ""},
		{"gzipped custom data", map[string]map[string]map[string]string{
			"udf": {"rd_rdfe_stable.cloudapp.net": {"ovf-env.xml": ovf("<ns1:CustomData>" + b64(gz(t, cfg)) + "</ns1:CustomData>")}},
		}, cfg, false, ""},
		{"ISO 9660 without ovf-env.xml is skipped", map[string]map[string]map[string]string{
			"iso9660": {"cidata": {"user-data": "x"}, "provisioning": {"ovf-env.xml": ovf("<ns1:CustomData>" + b64(cfg) + "</ns1:CustomData>")}},
		}, cfg, false, ""},
		{"no CD", nil, "", true, ""},
		{"CD without custom data", map[string]map[string]map[string]string{
			"udf": {"rd_rdfe_stable.cloudapp.net": {"ovf-env.xml": ovf("")}},
		}, "", true, ""},
		{"broken ovf-env.xml", map[string]map[string]map[string]string{
			"udf": {"rd_rdfe_stable.cloudapp.net": {"ovf-env.xml": ovf("<ns1:CustomData>%%%</ns1:CustomData>")}},
		}, "", false, `provisioning CD "rd_rdfe_stable.cloudapp.net": ovf-env.xml: CustomData is not base64`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeHost{drives: tc.drives}
			got, err := CustomData(context.Background(), host(t, f))
			switch {
			case tc.none:
				if !errors.Is(err, providers.ErrNoConfig) {
					t.Fatalf("err = %v, want ErrNoConfig", err)
				}
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) || errors.Is(err, providers.ErrNoConfig) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
			default:
				if err != nil || string(got) != tc.want {
					t.Fatalf("= %q, %v; calls %q", got, err, f.calls)
				}
			}
		})
	}
}

// TestFetch: the IMDS user data wins; the CD's custom data is used when
// the IMDS has none or (after the grace) cannot be reached.
func TestFetch(t *testing.T) {
	custom := func(data string) providers.Fetch {
		return func(context.Context, providers.Host) ([]byte, error) {
			if data == "" {
				return nil, fmt.Errorf("%w: no CD", providers.ErrNoConfig)
			}
			return []byte(data), nil
		}
	}
	brokenCD := func(context.Context, providers.Host) ([]byte, error) {
		return nil, errors.New("mount: wrong fs type")
	}
	const fromCD = `{"from": "cd"}`
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		cd       providers.Fetch
		want     string
		none     bool
		err      string
		maxHits  int32
		deadline time.Duration
	}{
		{"user data", 200, b64(cfg), custom(""), cfg, false, "", 1, 0},
		{"user data beats custom data", 200, b64(cfg), custom(fromCD), cfg, false, "", 1, 0},
		{"gzipped user data", 200, b64(gz(t, cfg)), custom(""), cfg, false, "", 1, 0},
		{"no user data: custom data", 200, "", custom(fromCD), fromCD, false, "", 1, 0},
		{"neither", 200, "\n", custom(""), "", true, "", 1, 0},
		{"IMDS failing: custom data after the grace", 500, "", custom(fromCD), fromCD, false, "", 100, 0},
		{"IMDS failing, no CD: the IMDS error", 503, "", custom(""), "", false, "server returned 503", 100, 300 * time.Millisecond},
		{"not base64", 200, "{}", custom(fromCD), "", false, "is not base64", 1, 0},
		{"CD error", 200, b64(cfg), brokenCD, "", false, "wrong fs type", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Metadata") != "true" || r.URL.Path != "/metadata/instance/compute/userData" ||
					r.URL.Query().Get("api-version") != "2021-01-01" || r.URL.Query().Get("format") != "text" {
					http.Error(w, "bad request", http.StatusBadRequest)
					return
				}
				hits.Add(1)
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			got, err := fetch(ctx, host(t, nil), srv.URL, tc.cd, 200*time.Millisecond)
			switch {
			case tc.none:
				if !errors.Is(err, providers.ErrNoConfig) {
					t.Fatalf("err = %v, want ErrNoConfig", err)
				}
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
			default:
				if err != nil || string(got) != tc.want {
					t.Fatalf("= %q, %v; want %q", got, err, tc.want)
				}
			}
			if hits.Load() > tc.maxHits {
				t.Errorf("%d IMDS requests, want at most %d", hits.Load(), tc.maxHits)
			}
		})
	}
}

// TestFetchRetryCodes: the codes Azure documents as transient are retried.
func TestFetchRetryCodes(t *testing.T) {
	codes := []int{http.StatusNotFound, http.StatusGone, http.StatusTooManyRequests, http.StatusInternalServerError}
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := int(hits.Add(1)); n <= len(codes) {
			http.Error(w, "not yet", codes[n-1])
			return
		}
		w.Write([]byte(b64(cfg)))
	}))
	defer srv.Close()
	got, err := fetch(context.Background(), host(t, nil), srv.URL, func(context.Context, providers.Host) ([]byte, error) {
		return nil, providers.ErrNoConfig
	}, time.Second)
	if err != nil || string(got) != cfg || hits.Load() != 5 {
		t.Fatalf("= %q, %v after %d requests", got, err, hits.Load())
	}
}

// TestOffline: fetch-offline leaves the IMDS, and so the choice, to the
// fetch stage even when the CD has custom data.
func TestOffline(t *testing.T) {
	f, err := resource.New(resource.Options{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	h := host(t, nil)
	h.Fetcher = f
	_, err = fetch(context.Background(), h, IMDSURL, func(context.Context, providers.Host) ([]byte, error) {
		return []byte(cfg), nil
	}, time.Second)
	if !errors.Is(err, resource.ErrNeedsNetwork) {
		t.Fatalf("err = %v, want ErrNeedsNetwork", err)
	}
}
