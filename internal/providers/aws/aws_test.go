package aws

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// TestTokenRefusals: which answers to the token PUT mean "IMDSv1 only"
// (read the user data without a token) and which are failures.
func TestTokenRefusals(t *testing.T) {
	const cfg = `{"ignition": {"version": "3.4.0"}}`
	for _, tc := range []struct {
		name        string
		tokenStatus int
		token       string
		want        string // the user data, or the error's text
		v1          bool   // the user data was read without a token
	}{
		{"token", 200, "tok", cfg, false},
		{"403: IMDSv1", 403, "", cfg, true},
		{"404: IMDSv1", 404, "", cfg, true},
		{"405: IMDSv1", 405, "", cfg, true},
		{"400 is an error", 400, "", "getting an IMDSv2 token: fetching " + "URL/latest/api/token: server returned 400 Bad Request", false},
		{"empty token", 200, "", "sent an empty token", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v1 bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/latest/api/token":
					if r.Method != http.MethodPut || r.Header.Get(tokenTTLHeader) == "" {
						http.Error(w, "bad token request", http.StatusTeapot)
						return
					}
					w.WriteHeader(tc.tokenStatus)
					w.Write([]byte(tc.token))
				case "/latest/user-data":
					got := r.Header.Get(tokenHeader)
					v1 = got == ""
					if !v1 && got != tc.token {
						http.Error(w, "bad token", http.StatusUnauthorized)
						return
					}
					w.Write([]byte(cfg))
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			f, err := resource.New(resource.Options{RetryMin: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			h := providers.Host{Fetcher: f, Log: log.Discard()}
			got, err := fetchFrom(context.Background(), h, srv.URL)
			want := strings.ReplaceAll(tc.want, "URL", srv.URL)
			if want == cfg {
				if err != nil || string(got) != cfg || v1 != tc.v1 {
					t.Fatalf("= %q, %v (IMDSv1 %v); want the config, IMDSv1 %v", got, err, v1, tc.v1)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), want) || errors.Is(err, providers.ErrNoConfig) {
				t.Fatalf("err = %v, want %q", err, want)
			}
		})
	}
}
