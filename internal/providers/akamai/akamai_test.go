package akamai

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

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

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

func host(t *testing.T, offline bool) providers.Host {
	f, err := resource.New(resource.Options{Offline: offline, RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond, Total: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return providers.Host{Fetcher: f, Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }}
}

// fake is the metadata service as its API reference describes it: a token
// only on PUT with an expiry header, user data only with a valid token.
type fake struct {
	tokenStatuses []int // answered to token requests before a token, in turn
	dataStatuses  []int // answered to user-data requests before the body
	body          string
	tokens, datas atomic.Int32
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const token = "tok-123"
	switch r.URL.Path {
	case tokenPath:
		if r.Method != http.MethodPut {
			http.Error(w, "token requests are PUT", http.StatusMethodNotAllowed)
			return
		}
		if r.Header.Get("Metadata-Token-Expiry-Seconds") == "" {
			http.Error(w, "missing Metadata-Token-Expiry-Seconds", http.StatusBadRequest)
			return
		}
		if i := int(f.tokens.Add(1)) - 1; i < len(f.tokenStatuses) {
			w.WriteHeader(f.tokenStatuses[i])
			return
		}
		w.Write([]byte(token + "\n"))
	case userDataPath:
		if r.Method != http.MethodGet {
			http.Error(w, "user data is GET", http.StatusMethodNotAllowed)
			return
		}
		if r.Header.Get("Metadata-Token") != token {
			http.Error(w, "bad or missing Metadata-Token", http.StatusUnauthorized)
			return
		}
		if i := int(f.datas.Add(1)) - 1; i < len(f.dataStatuses) {
			w.WriteHeader(f.dataStatuses[i])
			return
		}
		w.Write([]byte(f.body))
	default:
		http.NotFound(w, r)
	}
}

func TestFetch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fake    *fake
		want    string
		err     error
		errText string
	}{
		{name: "config", fake: &fake{body: b64(cfg)}, want: cfg},
		{name: "gzip", fake: &fake{body: b64(gzipped(t, cfg))}, want: cfg},
		{name: "trailing newline", fake: &fake{body: b64(cfg) + "\n"}, want: cfg},
		{name: "empty", fake: &fake{}, err: providers.ErrNoConfig},
		{name: "user data not found", fake: &fake{dataStatuses: []int{404}}, err: providers.ErrNoConfig},
		{name: "token 5xx is retried", fake: &fake{tokenStatuses: []int{503, 500}, body: b64(cfg)}, want: cfg},
		{name: "user data 5xx is retried", fake: &fake{dataStatuses: []int{502}, body: b64(cfg)}, want: cfg},
		{name: "token refused", fake: &fake{tokenStatuses: []int{403}}, errText: "getting a metadata token: fetching {srv}/v1/token: server returned 403 Forbidden"},
		{name: "not base64", fake: &fake{body: "{}"}, errText: "the user data at {srv}/v1/user-data is not base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.fake)
			t.Cleanup(srv.Close)
			got, err := fetchFrom(context.Background(), host(t, false), srv.URL)
			switch {
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			case tc.errText != "":
				want := strings.ReplaceAll(tc.errText, "{srv}", srv.URL)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want %q", err, want)
				}
			default:
				if err != nil || string(got) != tc.want {
					t.Fatalf("= %q, %v; want %q", got, err, tc.want)
				}
			}
		})
	}
}

func TestOffline(t *testing.T) {
	_, err := fetchFrom(context.Background(), host(t, true), "http://127.0.0.1:1")
	if !errors.Is(err, resource.ErrNeedsNetwork) {
		t.Fatalf("err = %v, want ErrNeedsNetwork", err)
	}
}
