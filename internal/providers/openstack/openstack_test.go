package openstack

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/providers/drivetest"
	"github.com/ignition-go/ignition/internal/resource"
)

const (
	cfg      = `{"ignition": {"version": "3.4.0"}}`
	driveCfg = `{"ignition": {"version": "3.3.0"}}`
	// unreachable refuses connections, which the fetcher retries.
	unreachable = "http://127.0.0.1:1"
)

func gzipped(t *testing.T, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func host(t *testing.T, r *drivetest.Runner, offline bool) providers.Host {
	f, err := resource.New(resource.Options{Offline: offline, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return providers.Host{Fetcher: f, Log: log.Discard(), Commands: r, Getenv: func(string) (string, bool) { return "", false }}
}

// serve starts a fake metadata service on addr ("127.0.0.1:0", "[::1]:0")
// answering the user data path with status (200: body).
func serve(t *testing.T, addr string, status int, body string) string {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != userDataPath {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func noInterfaces() ([]string, error) { return nil, nil }

func TestFetch(t *testing.T) {
	drive := func(files map[string]string, after int) []*drivetest.Drive {
		return []*drivetest.Drive{{Device: "/dev/sr0", Label: "config-2", Files: files, AppearsAfter: after}}
	}
	withUserData := map[string]string{drivePath: driveCfg}
	for _, tc := range []struct {
		name    string
		drives  []*drivetest.Drive
		v4      func(t *testing.T) string
		v6      func(t *testing.T) string // served on the interface "eth1"
		want    string
		err     error
		errText string
	}{
		{name: "drive, no network", drives: drive(withUserData, 0), want: driveCfg},
		{name: "drive without user data", drives: drive(map[string]string{"openstack/latest/meta_data.json": "{}"}, 0), err: providers.ErrNoConfig},
		{name: "metadata service", v4: func(t *testing.T) string { return serve(t, "127.0.0.1:0", 200, cfg) }, want: cfg},
		{name: "metadata service, gzip", v4: func(t *testing.T) string { return serve(t, "127.0.0.1:0", 200, gzipped(t, cfg)) }, want: cfg},
		{name: "metadata service has none", v4: func(t *testing.T) string { return serve(t, "127.0.0.1:0", 404, "") }, err: providers.ErrNoConfig},
		{name: "IPv6 only", v6: func(t *testing.T) string { return serve(t, "[::1]:0", 200, cfg) }, want: cfg},
		{name: "late drive beats a silent service", drives: drive(withUserData, 3), want: driveCfg},
		{name: "nothing answers", err: providers.ErrNoConfig, errText: "no config drive appeared and no metadata service answered within 300ms"},
		{name: "metadata service refuses", v4: func(t *testing.T) string { return serve(t, "127.0.0.1:0", 403, "") }, errText: "metadata service failed: " + "{v4}" + userDataPath + ": fetching {v4}" + userDataPath + ": server returned 403 Forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := race{v4: unreachable, v6: func(string) string { return unreachable }, interfaces: noInterfaces, timeout: 300 * time.Millisecond, poll: 10 * time.Millisecond}
			if tc.v4 != nil {
				r.v4 = tc.v4(t)
			}
			if tc.v6 != nil {
				u := tc.v6(t)
				r.interfaces = func() ([]string, error) { return []string{"eth0", "eth1"}, nil }
				r.v6 = func(iface string) string {
					if iface == "eth1" {
						return u
					}
					return unreachable
				}
			}
			runner := &drivetest.Runner{Drives: tc.drives}
			start := time.Now()
			got, err := fetchFrom(context.Background(), host(t, runner, false), r)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("took %s, the race is bounded by %s", took, r.timeout)
			}
			switch {
			case tc.err != nil || tc.errText != "":
				want := strings.ReplaceAll(tc.errText, "{v4}", r.v4)
				if err == nil || (tc.err != nil && !errors.Is(err, tc.err)) || (tc.err == nil && errors.Is(err, providers.ErrNoConfig)) || !strings.Contains(err.Error(), want) {
					t.Fatalf("= %q, %v; want %v / %q", got, err, tc.err, want)
				}
			default:
				if err != nil || string(got) != tc.want {
					t.Fatalf("= %q, %v; want %q", got, err, tc.want)
				}
			}
			if m := runner.Mounted(); len(m) != 0 {
				t.Errorf("left mounted: %v", m)
			}
		})
	}
}

// fetch-offline reads a config drive, and without one asks for the network.
func TestOffline(t *testing.T) {
	r := race{v4: unreachable, v6: metadataV6, interfaces: func() ([]string, error) { return []string{"eth0"}, nil }, timeout: time.Minute, poll: time.Second}
	runner := &drivetest.Runner{Drives: []*drivetest.Drive{{Device: "/dev/sr0", Label: "CONFIG-2", Files: map[string]string{drivePath: cfg}}}}
	got, err := fetchFrom(context.Background(), host(t, runner, true), r)
	if err != nil || string(got) != cfg {
		t.Fatalf("with a drive: = %q, %v", got, err)
	}
	start := time.Now()
	_, err = fetchFrom(context.Background(), host(t, &drivetest.Runner{}, true), r)
	if !errors.Is(err, resource.ErrNeedsNetwork) || time.Since(start) > 5*time.Second {
		t.Fatalf("without a drive: err = %v after %s, want ErrNeedsNetwork at once", err, time.Since(start))
	}
}

func TestMetadataV6(t *testing.T) {
	u, err := url.Parse(metadataV6("ens3") + userDataPath)
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "fe80::a9fe:a9fe%ens3" || u.Port() != "" || u.Path != userDataPath {
		t.Fatalf("parsed as host %q port %q path %q", u.Hostname(), u.Port(), u.Path)
	}
}

func TestUpInterfaces(t *testing.T) {
	names, err := upInterfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		i, err := net.InterfaceByName(n)
		if err != nil || i.Flags&net.FlagLoopback != 0 || i.Flags&net.FlagUp == 0 {
			t.Errorf("%s: %+v, %v", n, i, err)
		}
	}
}
