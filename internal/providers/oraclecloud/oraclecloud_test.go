package oraclecloud

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

const cfg = `{"ignition": {"version": "3.4.0"}}`

func gzipped(t *testing.T, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func host(t *testing.T, offline bool) providers.Host {
	f, err := resource.New(resource.Options{Offline: offline, RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond, Total: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return providers.Host{Fetcher: f, Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }}
}

func TestFetch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int  // answered before the body, in turn
		body     string // as the platform stores it
		want     string
		err      error
		errText  string
	}{
		{name: "config", body: b64(cfg), want: cfg},
		{name: "gzip", body: b64(gzipped(t, cfg)), want: cfg},
		{name: "not found", statuses: []int{404}, err: providers.ErrNoConfig},
		{name: "empty", body: "", err: providers.ErrNoConfig},
		{name: "5xx is retried", statuses: []int{503, 500}, body: b64(cfg), want: cfg},
		{name: "forbidden", statuses: []int{403}, errText: "server returned 403 Forbidden"},
		{name: "base64 with a newline", body: b64(cfg) + "\n", want: cfg},
		{name: "not base64", body: "{not base64", errText: "is not base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != userDataPath {
					http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
					return
				}
				if r.Header.Get("Authorization") != "Bearer Oracle" {
					http.Error(w, "missing Authorization header", http.StatusUnauthorized)
					return
				}
				if i := int(n.Add(1)) - 1; i < len(tc.statuses) {
					w.WriteHeader(tc.statuses[i])
					return
				}
				w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			got, err := fetchFrom(context.Background(), host(t, false), srv.URL)
			switch {
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			case tc.errText != "":
				if err == nil || !strings.Contains(err.Error(), tc.errText) || !strings.Contains(err.Error(), srv.URL+userDataPath) {
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
func TestOffline(t *testing.T) {
	_, err := fetchFrom(context.Background(), host(t, true), "http://127.0.0.1:1")
	if !errors.Is(err, resource.ErrNeedsNetwork) {
		t.Fatalf("err = %v, want ErrNeedsNetwork", err)
	}
}
