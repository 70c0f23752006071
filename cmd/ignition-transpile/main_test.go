package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const good = `variant: fcos
version: 1.5.0
storage:
  files:
    - path: /etc/motd
      contents:
        local: motd
`

// bad has an Ignition validation error (a relative path) on line 5, col 13.
const bad = `variant: fcos
version: 1.5.0
storage:
  files:
    - path: etc/motd
`

// warned has a lint warning (decimal mode) on line 6, col 13.
const warned = `variant: fcos
version: 1.5.0
storage:
  files:
    - path: /etc/motd
      mode: 644
`

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func filesDir(t *testing.T, name, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestStdinToStdout(t *testing.T) {
	dir := filesDir(t, "motd", "hi\n")
	code, out, errs := runCLI(t, good, "-d", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/motd","contents":{"compression":"","source":"data:,hi%0A"}}]}}` + "\n"
	if out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
}

// TestFilesDirsInOrder: the second -d is searched when the first lacks the file.
func TestFilesDirsInOrder(t *testing.T) {
	empty := t.TempDir()
	dir := filesDir(t, "motd", "second\n")
	code, out, errs := runCLI(t, good, "-d", empty, "--files-dir", dir)
	if code != 0 || !strings.Contains(out, "data:,second%0A") {
		t.Fatalf("exit %d, out %s, err %s", code, out, errs)
	}
}

func TestOutputFilePrettyAndInputFile(t *testing.T) {
	dir := filesDir(t, "motd", "hi\n")
	in := filepath.Join(dir, "config.bu")
	os.WriteFile(in, []byte(good), 0o644)
	outPath := filepath.Join(dir, "config.ign")
	code, out, errs := runCLI(t, "", "-p", "-d", dir, "-o", outPath, in)
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errs)
	}
	data, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "{\n  \"ignition\": {\n    \"version\": \"3.4.0\"") || !strings.HasSuffix(string(data), "}\n") {
		t.Errorf("not pretty:\n%s", data)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Errorf("output is not JSON: %v", err)
	}
}

func TestCheckWritesNothing(t *testing.T) {
	dir := filesDir(t, "motd", "hi\n")
	code, out, errs := runCLI(t, good, "-c", "-d", dir)
	if code != 0 || out != "" || errs != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestSnippetWithCaret(t *testing.T) {
	code, out, errs := runCLI(t, bad, "--color", "never")
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	want := "error: path not absolute\n" +
		" --> $.storage.files.0.path, line 5 col 13\n" +
		"  |\n" +
		"5 |     - path: etc/motd\n" +
		"  |             ^\n"
	if errs != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errs, want)
	}
}

func TestRawErrors(t *testing.T) {
	code, _, errs := runCLI(t, bad, "--raw-errors")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	if want := "error at $.storage.files.0.path, line 5 col 13: path not absolute\n"; errs != want {
		t.Errorf("stderr %q, want %q", errs, want)
	}
}

func TestJSONReport(t *testing.T) {
	code, _, errs := runCLI(t, bad, "--format", "json")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var entries []struct {
		Kind, Path, Message string
		Line, Column        int
	}
	if err := json.Unmarshal([]byte(errs), &entries); err != nil {
		t.Fatalf("%v: %s", err, errs)
	}
	if len(entries) != 1 || entries[0].Kind != "error" || entries[0].Line != 5 || entries[0].Column != 13 || entries[0].Path != "$.storage.files.0.path" {
		t.Errorf("entries %+v", entries)
	}
}

func TestStrict(t *testing.T) {
	code, out, errs := runCLI(t, warned, "--raw-errors")
	if code != 0 || out == "" || !strings.Contains(errs, "warning at $.storage.files.0.mode, line 6 col 13") {
		t.Fatalf("without -s: exit %d, out %q, err %q", code, out, errs)
	}
	code, out, _ = runCLI(t, warned, "-s")
	if code != 1 || out != "" {
		t.Errorf("with -s: exit %d, out %q", code, out)
	}
}

func TestColor(t *testing.T) {
	_, _, errs := runCLI(t, bad, "--color", "always")
	if !strings.Contains(errs, "\x1b[1;31merror\x1b[0m") {
		t.Errorf("no color: %q", errs)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"--nope"}, {"--color", "pink"}, {"--format", "xml"}, {"a.bu", "b.bu"}} {
		if code, _, _ := runCLI(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	code, out, _ := runCLI(t, "", "-V")
	if code != 0 || !strings.HasPrefix(out, "ignition-transpile ") {
		t.Errorf("-V: exit %d, %q", code, out)
	}
	if code, _, errs := runCLI(t, "", "/nonexistent.bu"); code != 1 || !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: exit %d, %q", code, errs)
	}
}

const openshiftConfig = `variant: openshift
version: 4.14.0
metadata:
  name: 99-worker-fips
  labels:
    machineconfiguration.openshift.io/role: worker
openshift:
  fips: true
storage:
  files:
    - path: /etc/motd
      contents:
        inline: hi
`

// TestOpenShift: an openshift config is a MachineConfig (YAML, -p has no
// effect) unless -r asks for the Ignition config, and then the openshift
// section is reported as ignored.
func TestOpenShift(t *testing.T) {
	code, out, errs := runCLI(t, openshiftConfig, "-p")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"kind: MachineConfig\n", "  name: 99-worker-fips\n", "    machineconfiguration.openshift.io/role: worker\n",
		"  fips: true\n", "      version: 3.4.0\n", "            source: data:,hi\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("MachineConfig lacks %q:\n%s", want, out)
		}
	}
	if errs != "" {
		t.Errorf("stderr: %s", errs)
	}

	code, out, errs = runCLI(t, openshiftConfig, "-r", "--raw-errors")
	if code != 0 {
		t.Fatalf("-r: exit %d: %s", code, errs)
	}
	var ign map[string]any
	if err := json.Unmarshal([]byte(out), &ign); err != nil {
		t.Fatalf("-r output is not JSON: %v\n%s", err, out)
	}
	if want := "warning at $.openshift.fips, line 8 col 3: openshift.fips only sets the LUKS cipher in raw Ignition (-r)"; !strings.HasPrefix(errs, want) {
		t.Errorf("stderr %q, want %q…", errs, want)
	}
	// -s turns that warning into a failure.
	if code, _, _ := runCLI(t, openshiftConfig, "-r", "-s"); code != 1 {
		t.Errorf("-r -s: exit %d, want 1", code)
	}
}
