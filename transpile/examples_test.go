package transpile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/config"
)

const examplesFiles = "../examples/files"

// TestExamplesTranslate: every examples/*.bu translates cleanly.
func TestExamplesTranslate(t *testing.T) {
	inputs, _ := filepath.Glob("../examples/*.bu")
	if len(inputs) == 0 {
		t.Fatal("no examples/*.bu")
	}
	for _, in := range inputs {
		src, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Translate(src, Options{FilesDirs: []string{examplesFiles}})
		if err != nil || len(res.Report.Entries) > 0 {
			t.Errorf("%s: %v\n%s", in, err, raw(res.Report))
		}
	}
}

// TestExamplesMatchIgnition: the Butane forms of the example Ignition
// configs produce those configs.
func TestExamplesMatchIgnition(t *testing.T) {
	for _, tt := range []struct {
		bu, ign string
		// dropUnits: the .bu adds generated units the .ign lacks.
		dropUnits bool
	}{
		{"webserver.bu", "webserver.ign", false},
		{"encrypted-raid.bu", "encrypted-raid.ign", true},
	} {
		t.Run(tt.bu, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("../examples", tt.bu))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Translate(src, Options{})
			if err != nil {
				t.Fatalf("%v\n%s", err, raw(res.Report))
			}
			if tt.dropUnits {
				if n := len(res.Config.Systemd.Units); n != 1 || res.Config.Systemd.Units[0].Name != "var-lib-data.mount" {
					t.Fatalf("generated units %+v", res.Config.Systemd.Units)
				}
				res.Config.Systemd.Units = nil
			}
			got, _ := json.Marshal(res.Config)
			want, err := os.ReadFile(filepath.Join("../examples", tt.ign))
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, got, want)
		})
	}
}

// TestGoldenIsValidIgnition double-checks the goldens with the config
// library directly, independently of Translate: each is a valid config of
// exactly the spec version its variant version maps to.
func TestGoldenIsValidIgnition(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/golden/*.bu")
	for _, in := range inputs {
		base := strings.TrimSuffix(filepath.Base(in), ".bu")
		variant, version, _ := strings.Cut(base, "-")
		v, err := LookupVersion(variant, version)
		if err != nil {
			continue // a sugar golden, named by feature
		}
		data, err := os.ReadFile(strings.TrimSuffix(in, ".bu") + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if _, r, err := config.ParseVersion(data, v.Ignition); err != nil {
			t.Errorf("%s: not a valid %s config: %v\n%s", base, v.Ignition, err, r)
		}
	}
}
