package cloudstack

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/providers/drivetest"
	"github.com/ignition-go/ignition/internal/resource"
)

const cfg = `{"ignition": {"version": "3.4.0"}}`

func host(t *testing.T, r *drivetest.Runner, offline bool) providers.Host {
	f, err := resource.New(resource.Options{Offline: offline, RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond, Total: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return providers.Host{Fetcher: f, Log: log.Discard(), Commands: r, Getenv: func(string) (string, bool) { return "", false }}
}

func TestFetch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		drive   map[string]string // nil: none
		status  int               // of the metadata service; 0: not asked
		body    string
		want    string
		err     error
		errText string
	}{
		{name: "config drive", drive: map[string]string{drivePath: cfg}, want: cfg},
		{name: "config drive without user data", drive: map[string]string{"cloudstack/metadata/instance-id.txt": "i-1"}, err: providers.ErrNoConfig},
		{name: "metadata service", status: 200, body: cfg, want: cfg},
		{name: "metadata service has none", status: 404, err: providers.ErrNoConfig},
		{name: "metadata service empty", status: 200, body: "", err: providers.ErrNoConfig},
		{name: "metadata service refuses", status: 403, errText: "server returned 403 Forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked.Store(true)
				if r.URL.Path != userDataPath {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			r := &drivetest.Runner{}
			if tc.drive != nil {
				r.Drives = []*drivetest.Drive{{Device: "/dev/sr0", Label: "config-2", Files: tc.drive}}
			}
			servers := func() ([]string, error) { return []string{strings.TrimPrefix(srv.URL, "http://")}, nil }
			got, err := fetchFrom(context.Background(), host(t, r, false), servers)
			switch {
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("= %q, %v; want %v", got, err, tc.err)
				}
			case tc.errText != "":
				if err == nil || errors.Is(err, providers.ErrNoConfig) || !strings.Contains(err.Error(), tc.errText) || !strings.Contains(err.Error(), srv.URL+userDataPath) {
					t.Fatalf("err = %v, want one naming the URL and %q", err, tc.errText)
				}
			default:
				if err != nil || string(got) != tc.want {
					t.Fatalf("= %q, %v; want %q", got, err, tc.want)
				}
			}
			if asked.Load() != (tc.status != 0) {
				t.Errorf("metadata service asked: %v", asked.Load())
			}
			if m := r.Mounted(); len(m) != 0 {
				t.Errorf("left mounted: %v", m)
			}
		})
	}
}

// Without a lease the router's DNS name is asked; in fetch-offline that
// means retrying with the network up.
func TestOfflineNoLease(t *testing.T) {
	_, err := fetchFrom(context.Background(), host(t, &drivetest.Runner{}, true), func() ([]string, error) { return nil, nil })
	if !errors.Is(err, resource.ErrNeedsNetwork) || !strings.Contains(err.Error(), "http://data-server/latest/user-data") {
		t.Fatalf("err = %v, want ErrNeedsNetwork for data-server", err)
	}
}

func TestLeaseServers(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		// systemd-networkd
		"networkd/2": "# This is private data. Do not parse.\nADDRESS=10.1.1.23\nNETMASK=255.255.255.0\nROUTER=10.1.1.1\nSERVER_ADDRESS=10.1.1.1\nLIFETIME=86400\n",
		// NetworkManager's device state
		"nm/3": "[device]\nmanaged=true\n\n[dhcp4]\ndhcp_lease_time=86400\ndhcp_server_identifier=10.2.2.1\nip_address=10.2.2.50\n",
		"nm/4": "[device]\nmanaged=false\n",
		// dhclient: two leases, the newest last
		"dhclient/dhclient-eth2.leases": "lease {\n  interface \"eth2\";\n  fixed-address 10.3.3.7;\n  option dhcp-server-identifier 10.3.3.9;\n}\nlease {\n  interface \"eth2\";\n  fixed-address 10.3.3.7;\n  option dhcp-server-identifier 10.3.3.1;\n}\n",
		// the same server again, and garbage
		"dhclient/dhclient-eth3.leases": "option dhcp-server-identifier 10.1.1.1;\n",
		"dhclient/dhclient-eth4.leases": "option dhcp-server-identifier not-an-ip;\n",
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := leaseServers([]string{filepath.Join(dir, "networkd/*"), filepath.Join(dir, "nm/*"), filepath.Join(dir, "dhclient/*.lease*"), filepath.Join(dir, "missing/*")})
	if want := []string{"10.1.1.1", "10.2.2.1", "10.3.3.1"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("= %v, %v; want %v", got, err, want)
	}
	got, err = leaseServers([]string{filepath.Join(dir, "none/*")})
	if err != nil || len(got) != 0 {
		t.Fatalf("no leases: = %v, %v", got, err)
	}
}
