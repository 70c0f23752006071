package transpile

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden .json and .report files from the current output")

// filesDir holds the local files the golden configs embed.
const filesDir = "testdata/files"

// TestGolden translates every testdata/golden/*.bu and compares the output
// (as JSON values, not bytes) with the .json next to it, and the report
// (raw lines) with the .report file, which is absent when there is none.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/golden/*.bu")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".bu")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Translate(src, Options{FilesDirs: []string{filesDir}})
			var report bytes.Buffer
			res.Report.WriteRaw(&report)
			if err != nil {
				t.Fatalf("Translate: %v\n%s", err, report.String())
			}
			base := strings.TrimSuffix(in, ".bu")
			if *update {
				pretty, _ := Indent(res.JSON)
				writeGolden(t, base+".json", append(pretty, '\n'))
				writeGolden(t, base+".report", report.Bytes())
				writeGolden(t, base+".yaml", res.MachineConfig)
				return
			}
			// An openshift config is also compared as the MachineConfig
			// document the CLI writes, byte for byte.
			wantMC, _ := os.ReadFile(base + ".yaml")
			if string(res.MachineConfig) != string(wantMC) {
				t.Errorf("MachineConfig:\n%s\nwant:\n%s", res.MachineConfig, wantMC)
			}
			want, err := os.ReadFile(base + ".json")
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, res.JSON, want)
			wantReport, _ := os.ReadFile(base + ".report")
			if report.String() != string(wantReport) {
				t.Errorf("report:\n%s\nwant:\n%s", report.String(), wantReport)
			}
			// The variant version picks the Ignition version.
			if v := res.Config.Ignition.Version; v != res.Version.Ignition.String() {
				t.Errorf("ignition.version %s, want %s", v, res.Version.Ignition)
			}
		})
	}
}

func writeGolden(t *testing.T, path string, data []byte) {
	t.Helper()
	if len(data) == 0 {
		os.Remove(path)
		return
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func assertSameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("golden is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		pretty, _ := Indent(got)
		t.Errorf("output differs from golden:\n%s\nwant:\n%s", pretty, want)
	}
}
