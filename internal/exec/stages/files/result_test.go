package files

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func TestResultFile(t *testing.T) {
	for _, provided := range []bool{true, false} {
		fx := newFixture(t)
		fx.env.UserConfigProvided = provided
		fx.write("etc/.ignition-result.json", "stale", 0o600)
		if err := fx.run(`{"ignition":{"version":"3.6.0"}}`); err != nil {
			t.Fatal(err)
		}
		raw := fx.read("etc/.ignition-result.json")
		var got map[string]any
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		want := map[string]any{
			"provisioningBootID": "d82970dc-6fea-43c6-bcf0-8ec547e8a989",
			"provisioningDate":   "2026-03-04T16:49:02Z",
			"userConfigProvided": provided,
		}
		if len(got) != len(want) {
			t.Errorf("report %s, want exactly %v", raw, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		if m := fx.mode("etc/.ignition-result.json"); m != 0o644 {
			t.Errorf("mode %v", m)
		}
		if o := fx.owner("etc/.ignition-result.json"); o != [2]int{0, 0} {
			t.Errorf("owner %v", o)
		}
		if tmp := fx.tempFiles(); len(tmp) != 0 {
			t.Errorf("temp files left: %v", tmp)
		}
	}
}

// TestResultDateIsUTC: a clock in another zone still gives a UTC date.
func TestResultDateIsUTC(t *testing.T) {
	fx := newFixture(t)
	zone := time.FixedZone("X", 5*3600)
	fx.env.Now = func() time.Time { return time.Date(2026, 1, 2, 8, 0, 0, 0, zone) }
	if err := fx.run(`{"ignition":{"version":"3.6.0"}}`); err != nil {
		t.Fatal(err)
	}
	if got := fx.read("etc/.ignition-result.json"); !strings.Contains(got, `"provisioningDate":"2026-01-02T03:00:00Z"`) {
		t.Errorf("report %s", got)
	}
}

// TestResultWrittenLast: a failing stage leaves no report, so a machine
// that was not fully provisioned does not claim it was.
func TestResultWrittenLast(t *testing.T) {
	fx := newFixture(t)
	fx.write("etc/foo", "x", 0o644)
	err := Run(context.Background(), fx.parse(storage(`{"files":[{"path":"/etc/foo","contents":{"source":"data:,y"}}]}`)), fx.env)
	if err == nil {
		t.Fatal("no error")
	}
	if fx.exists("etc/.ignition-result.json") {
		t.Error("report written after a failure")
	}
	fx.env.BootIDFile = fx.host("nonexistent")
	os.Remove(fx.host("etc/foo"))
	if err := fx.run(`{"ignition":{"version":"3.6.0"}}`); err == nil || !strings.Contains(err.Error(), "reading the boot ID") {
		t.Errorf("error %v", err)
	}
}
