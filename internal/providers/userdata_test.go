package providers

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/resource"
)

func testHost(t *testing.T, offline bool) Host {
	f, err := resource.New(resource.Options{Offline: offline, RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond, Total: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return Host{Fetcher: f, Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }}
}

// TestUserData is the metadata-service protocol every plain-GET provider
// shares (each is also run end to end in tests/providers).
func TestUserData(t *testing.T) {
	const cfg = `{"ignition": {"version": "3.4.0"}}`
	for _, tc := range []struct {
		name     string
		statuses []int  // answered before the body, in turn
		body     string // as the platform stores it
		header   string // a header the service requires
		want     string
		err      error
		errText  string
	}{
		{name: "config", body: cfg, want: cfg},
		{name: "gzip", body: string(gz(t, cfg)), want: cfg},
		{name: "not found", statuses: []int{404}, err: ErrNoConfig},
		{name: "empty", body: "", err: ErrNoConfig},
		{name: "5xx is retried", statuses: []int{503, 500}, body: cfg, want: cfg},
		{name: "forbidden", statuses: []int{403}, errText: "server returned 403 Forbidden"},
		{name: "the request's headers are sent", header: "Metadata-Flavor", body: cfg, want: cfg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/user-data" || tc.header != "" && r.Header.Get(tc.header) != "yes" {
					http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
					return
				}
				if i := int(n.Add(1)) - 1; i < len(tc.statuses) {
					w.WriteHeader(tc.statuses[i])
					return
				}
				w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			req := resource.Request{URL: srv.URL + "/user-data"}
			if tc.header != "" {
				req.Headers = http.Header{tc.header: {"yes"}}
			}
			got, err := UserData(context.Background(), testHost(t, false), req)
			switch {
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			case tc.errText != "":
				if err == nil || !strings.Contains(err.Error(), tc.errText) || !strings.Contains(err.Error(), req.URL) {
					t.Fatalf("err = %v, want one naming the URL and %q", err, tc.errText)
				}
			default:
				if err != nil || string(got) != tc.want {
					t.Fatalf("= %q, %v; want %q", got, err, tc.want)
				}
			}
		})
	}
}

// In fetch-offline the metadata service is out of reach: the stage must
// be told to retry with the network up.
func TestUserDataOffline(t *testing.T) {
	_, err := UserData(context.Background(), testHost(t, true), resource.Request{URL: "http://127.0.0.1:1/user-data"})
	if !errors.Is(err, resource.ErrNeedsNetwork) {
		t.Fatalf("err = %v, want ErrNeedsNetwork", err)
	}
}
