package packet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

func host(t *testing.T, offline bool) providers.Host {
	t.Helper()
	f, err := resource.New(resource.Options{Offline: offline, RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond, Total: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return providers.Host{Fetcher: f, Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }}
}

// fakeMetal serves the metadata (naming its own /events as the user state
// URL, unless noStateURL) and records the events posted there.
type fakeMetal struct {
	srv         *httptest.Server
	noStateURL  bool
	eventStatus int // answered to events; 0 means 200

	mu     sync.Mutex
	events []userState
	types  []string
}

func newFakeMetal(t *testing.T) *fakeMetal {
	f := &fakeMetal{}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMetal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/metadata":
		md := map[string]any{"id": "d4b783e9", "hostname": "metal-1", "phone_home_url": f.srv.URL + "/phone-home"}
		if !f.noStateURL {
			md["user_state_url"] = f.srv.URL + "/events"
		}
		json.NewEncoder(w).Encode(md)
	case r.Method == http.MethodPost && r.URL.Path == "/events":
		var ev userState
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.events = append(f.events, ev)
		f.types = append(f.types, r.Header.Get("Content-Type"))
		f.mu.Unlock()
		if f.eventStatus != 0 {
			w.WriteHeader(f.eventStatus)
		}
	default:
		http.NotFound(w, r)
	}
}

func TestStatus(t *testing.T) {
	long := errors.New(strings.Repeat("x", 3*maxMessage))
	tests := []struct {
		name     string
		stageErr error
		want     userState
	}{
		{"a stage that succeeded", nil, userState{State: "running", Message: "Ignition files: finished"}},
		{"a stage that failed", errors.New("storage.files.0 (/etc/x): boom"),
			userState{State: "failed", Message: "Ignition files failed: storage.files.0 (/etc/x): boom"}},
		{"a multi-line error is one line", errors.New("config is not valid:\n  error at line 2 col 14: bad\n  error at line 3 col 1: worse\n"),
			userState{State: "failed", Message: "Ignition files failed: config is not valid:; error at line 2 col 14: bad; error at line 3 col 1: worse"}},
		{"a long error is cut", long,
			userState{State: "failed", Message: ("Ignition files failed: " + long.Error())[:maxMessage-3] + "..."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMetal(t)
			if err := statusTo(context.Background(), host(t, false), f.srv.URL, "files", tt.stageErr); err != nil {
				t.Fatal(err)
			}
			if len(f.events) != 1 || f.events[0] != tt.want || f.types[0] != "application/json" {
				t.Errorf("events %q (content types %q), want one %q as application/json", f.events, f.types, tt.want)
			}
		})
	}
}

func TestStatusFailures(t *testing.T) {
	f := newFakeMetal(t)
	f.noStateURL = true
	err := statusTo(context.Background(), host(t, false), f.srv.URL, "fetch", nil)
	if err == nil || !strings.Contains(err.Error(), "no user_state_url") {
		t.Errorf("without user_state_url: %v, want an error saying so", err)
	}

	f = newFakeMetal(t)
	f.eventStatus = http.StatusUnprocessableEntity
	err = statusTo(context.Background(), host(t, false), f.srv.URL, "fetch", nil)
	if err == nil || !strings.Contains(err.Error(), "422") {
		t.Errorf("events answering 422: %v, want an error naming it", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = statusTo(ctx, host(t, false), "http://127.0.0.1:1", "fetch", nil)
	if err == nil || !strings.Contains(err.Error(), "reading the user state URL") {
		t.Errorf("no metadata service: %v", err)
	}
}

func TestStatusOffline(t *testing.T) {
	f := newFakeMetal(t)
	if err := statusTo(context.Background(), host(t, true), f.srv.URL, "fetch-offline", errors.New("x")); err != nil {
		t.Fatalf("offline: %v, want nothing reported and no error", err)
	}
	if len(f.events) != 0 {
		t.Errorf("offline stage posted %v", f.events)
	}
}

func TestFetch(t *testing.T) {
	for _, tc := range []struct {
		status  int
		body    string
		want    string
		noCfg   bool
		wantErr bool
	}{
		{status: 200, body: `{"ignition": {"version": "3.4.0"}}`, want: `{"ignition": {"version": "3.4.0"}}`},
		{status: 404, noCfg: true},
		{status: 200, body: "", noCfg: true},
		{status: 403, wantErr: true},
	} {
		t.Run(fmt.Sprint(tc.status, tc.body), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/userdata" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			got, err := fetchFrom(context.Background(), host(t, false), srv.URL)
			switch {
			case tc.noCfg:
				if !errors.Is(err, providers.ErrNoConfig) {
					t.Errorf("got %q, %v; want ErrNoConfig", got, err)
				}
			case tc.wantErr:
				if err == nil || errors.Is(err, providers.ErrNoConfig) {
					t.Errorf("got %q, %v; want a failure", got, err)
				}
			case err != nil || string(got) != tc.want:
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
