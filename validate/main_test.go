package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	valid   = `{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/etc/motd", "contents": {"source": "data:,hi"}}]}}`
	warns   = `{"ignition": {"version": "3.4.0"}, "extra": 1}`
	invalid = "{\"ignition\": {\"version\": \"3.4.0\"},\n \"storage\": {\"files\": [{\"path\": 7}]}}"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	good := write(t, "good.ign", valid)
	warn := write(t, "warn.ign", warns)
	bad := write(t, "bad.ign", invalid)
	empty := write(t, "empty.ign", "")
	for _, tc := range []struct {
		name         string
		stdin        string
		args         []string
		code         int
		stdout       string // exact
		stderrSubstr string
	}{
		{"valid", "", []string{good}, 0, "", ""},
		{"warning only", "", []string{warn}, 0, "warning at $.extra, line 1 col 36: unused key extra\n", ""},
		{"strict fails on warnings", "", []string{"--strict", warn}, 1, "warning at $.extra, line 1 col 36: unused key extra\n", ""},
		{"single dash flags work too", "", []string{"-strict", warn}, 1, "warning at $.extra, line 1 col 36: unused key extra\n", ""},
		{"invalid", "", []string{bad}, 1, "error at $.storage.files.0.path, line 2 col 33: type mismatch: expected string, found number\n", ""},
		{"stdin", invalid, []string{"-"}, 1, "error at $.storage.files.0.path, line 2 col 33: type mismatch: expected string, found number\n", ""},
		{"several files are prefixed", "", []string{good, warn, bad}, 1,
			warn + ": warning at $.extra, line 1 col 36: unused key extra\n" +
				bad + ": error at $.storage.files.0.path, line 2 col 33: type mismatch: expected string, found number\n", ""},
		{"empty", "", []string{empty}, 1, "", "couldn't parse config: not a config (empty)"},
		{"missing file", "", []string{filepath.Join(t.TempDir(), "nope.ign")}, 1, "", "couldn't read config: open "},
		{"no file", "", nil, 1, "", "Usage:"},
		{"bad format", "", []string{"--format", "xml", good}, 1, "", `invalid --format "xml"`},
		{"unknown flag", "", []string{"--bogus", good}, 1, "", "flag provided but not defined: -bogus"},
		{"version", "", []string{"--version"}, 0, "ignition-validate was-not-built-properly\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if stdout != tc.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tc.stdout)
			}
			if !strings.Contains(stderr, tc.stderrSubstr) || (tc.stderrSubstr == "" && stderr != "") {
				t.Errorf("stderr %q, want it to contain %q", stderr, tc.stderrSubstr)
			}
		})
	}
}

func TestJSONFormat(t *testing.T) {
	warn := write(t, "warn.ign", warns)
	bad := write(t, "bad.ign", invalid)
	empty := write(t, "empty.ign", "")
	code, stdout, _ := runCLI("", "--format", "json", warn, bad, empty)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	var got []jsonEntry
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	want := []jsonEntry{
		{File: warn, Kind: "warning", Path: "$.extra", Line: 1, Column: 36, Message: "unused key extra"},
		{File: bad, Kind: "error", Path: "$.storage.files.0.path", Line: 2, Column: 33, Message: "type mismatch: expected string, found number"},
		{File: empty, Kind: "error", Message: "couldn't parse config: not a config (empty)"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// A clean run prints an empty array, not null, so tools can always iterate.
	good := write(t, "good.ign", valid)
	if _, stdout, _ := runCLI("", "--format=json", good); strings.TrimSpace(stdout) != "[]" {
		t.Errorf("clean run printed %q", stdout)
	}
}
