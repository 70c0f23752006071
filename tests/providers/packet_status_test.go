package providers_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sync"
	"testing"
)

// The Equinix Metal fakes: the metadata service (TLS, by name) serves the
// user data and the metadata, whose user_state_url points at the events
// service (plain http, elsewhere, as Equinix's tinkerbell URLs are).
const (
	metalIP     = "169.254.77.77"
	metalEvents = "169.254.77.78"
)

// metalFake is the metadata service with /metadata.
type metalFake struct {
	*userDataFake
}

func (f *metalFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metadata" {
		f.userDataFake.ServeHTTP(w, r)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"id":             "2885032e-61a8-4786-bd26-7b2e2e6ba1ea",
		"hostname":       "metal-1",
		"phone_home_url": "http://" + metalEvents + "/phone-home",
		"user_state_url": "http://" + metalEvents + "/events",
	})
}

// eventsFake records the user state events posted to it.
type eventsFake struct {
	mu     sync.Mutex
	events []map[string]any
}

func (f *eventsFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/events" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "POST JSON to /events", http.StatusBadRequest)
		return
	}
	var ev map[string]any
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.mu.Unlock()
}

// TestPacketStatus checks that the stage's end is posted as a user state
// event: "running" after a stage that succeeded, "failed" with the error
// after one that failed, nothing from fetch-offline.
func TestPacketStatus(t *testing.T) {
	tests := []struct {
		name      string
		body      []byte
		stage     string
		wantState string
		wantMsg   *regexp.Regexp
	}{
		{"packet/status: fetch succeeded", userConfig("packet"), "fetch", "running", regexp.MustCompile(`^Ignition fetch: finished$`)},
		{"packet/status: fetch failed", []byte(garbage), "fetch", "failed", regexp.MustCompile(`^Ignition fetch failed: .*line 2 col \d+`)},
		{"packet/status: none from fetch-offline", userConfig("packet"), "fetch-offline", "", nil},
	}
	var scs []scenario
	for _, tt := range tests {
		p := specByName(t, "packet")
		ud := p.newFake().ud()
		ud.body = tt.body
		events := &eventsFake{}
		sc := scenario{
			name:     tt.name,
			platform: "packet",
			addrs:    p.addrs,
			tlsNames: p.tlsNames,
			hosts:    p.hosts,
			handler:  &metalFake{ud},
			services: []service{{addrs: []string{metalEvents + ":80"}, handler: events}},
			stage:    tt.stage,
			check: func(t *testing.T) {
				events.mu.Lock()
				defer events.mu.Unlock()
				if tt.wantState == "" {
					if len(events.events) != 0 {
						t.Errorf("events %v, want none", events.events)
					}
					return
				}
				if len(events.events) != 1 {
					t.Fatalf("events %v, want one", events.events)
				}
				ev := events.events[0]
				msg, _ := ev["message"].(string)
				if ev["state"] != tt.wantState || !tt.wantMsg.MatchString(msg) {
					t.Errorf("event %v, want state %q and a message matching %q", ev, tt.wantState, tt.wantMsg)
				}
			},
		}
		switch {
		case tt.stage == "fetch-offline":
			sc.wantNeedNet = true
		case tt.wantState == "failed":
			sc.wantFailure = regexp.MustCompile(`Ignition failed: fetch: .*line 2 col \d+`)
		default:
			sc.wantFiles = []string{baseFile, "/etc/from-packet"}
			sc.wantLog = []string{`reporting state "running" to http://` + metalEvents + `/events`}
		}
		scs = append(scs, sc)
	}
	runScenarios(t, scs)
}
