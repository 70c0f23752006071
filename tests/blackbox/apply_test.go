package blackbox

// ignition-apply through the real binary: the test build of ignition
// called as ignition-apply (a symlink in the harness's bin dir), applying
// a config to a plain temp dir.

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// applyCase is one run of ignition-apply on a fresh dir holding defaultSeed.
type applyCase struct {
	name   string
	config string // a template as scenario.config
	remote map[string][]byte
	tftp   map[string][]byte
	flags  []string // before the config file

	code     int      // exit status wanted
	out      []string // regexps the output must match, each somewhere
	notOut   []string // regexps it must not match
	want     []expect
	commands [][]string // stubbed commands, "ROOT" for the dir
	// untouched: the dir must be exactly as seeded afterwards.
	untouched bool
}

// applyAll is a config with every section ignition-apply applies.
var applyAll = `{"ignition": {"version": "3.4.0"},
	"passwd": {"users": [{"name": "bob", "uid": 1600}]},
	"storage": {
		"directories": [{"path": "/var/lib/app", "mode": 488, "user": {"name": "core"}}],
		"files": [
			{"path": "/etc/app.conf", "mode": 416, "group": {"name": "core"}, "contents": {"source": "data:,setting=1%0A"}},
			{"path": "/opt/tool/readme", "contents": {"source": "{{.URL}}/readme"}},
			{"path": "/boot/from-tftp", "contents": {"source": "{{.TFTP}}/pxe/file"}}],
		"links": [
			{"path": "/etc/alias.conf", "target": "/etc/app.conf"},
			{"path": "/etc/hard.conf", "target": "/etc/app.conf", "hard": true}]},
	"systemd": {"units": [
		{"name": "app.service", "enabled": true, "contents": ` + jsonString(unitText) + `},
		{"name": "bad.service", "mask": true}]}}`

// applyAllWant is what applyAll leaves in the dir.
var applyAllWant = []expect{
	dir{path: "/var/lib/app", mode: 0o750, uid: 1000},
	file{path: "/etc/app.conf", contents: "setting=1\n", mode: 0o640, gid: 1000},
	file{path: "/opt/tool/readme", contents: "over HTTP\n", mode: 0o644},
	dir{path: "/opt/tool", mode: 0o755},
	file{path: "/boot/from-tftp", contents: "over TFTP\n", mode: 0o644},
	symlink{path: "/etc/alias.conf", target: "/etc/app.conf"},
	hardlink{path: "/etc/hard.conf", target: "/etc/app.conf"},
	file{path: "/etc/systemd/system/app.service", contents: unitText, mode: 0o644},
	symlink{path: "/etc/systemd/system/bad.service", target: "/dev/null"},
	hasLines{path: "/etc/systemd/system-preset/20-ignition.preset", lines: []string{"enable app.service"}},
	jsonFile{path: "/etc/.ignition-result.json"},
}

var applyCases = []applyCase{
	{
		name:     "files, directories, links, units and a user applied to a directory",
		config:   applyAll,
		remote:   map[string][]byte{"/readme": []byte("over HTTP\n")},
		tftp:     map[string][]byte{"pxe/file": []byte("over TFTP\n")},
		out:      []string{`ignition-apply finished successfully`},
		notOut:   []string{`WARNING`, `CRITICAL`},
		want:     applyAllWant,
		commands: [][]string{{"useradd", "--root", "ROOT", "--uid", "1600", "--create-home", "bob"}},
	},
	{
		name:   "config read from stdin",
		config: `{"ignition": {"version": "3.0.0"}, "storage": {"files": [{"path": "/etc/stdin", "contents": {"source": "data:,in"}}]}}`,
		flags:  []string{"-"},
		out:    []string{`ignition-apply finished successfully`},
		want:   []expect{file{path: "/etc/stdin", contents: "in", mode: 0o644}},
	},
	{
		name: "storage.disks and kernelArguments refused, nothing applied",
		config: `{"ignition": {"version": "3.4.0"},
			"kernelArguments": {"shouldExist": ["quiet"]},
			"storage": {"disks": [{"device": "/dev/vdb", "wipeTable": true}],
			            "files": [{"path": "/etc/f", "contents": {"source": "data:,f"}}]}}`,
		code: 1,
		out: []string{
			`(?m)^CRITICAL.*ignition-apply failed: .*storage\.disks: not supported`,
			`(?m)^CRITICAL.*kernelArguments: not supported`,
		},
		notOut:    []string{`finished successfully`},
		untouched: true,
	},
	{
		name: "storage.disks and kernelArguments skipped with --ignore-unsupported",
		config: `{"ignition": {"version": "3.4.0"},
			"kernelArguments": {"shouldExist": ["quiet"]},
			"storage": {"disks": [{"device": "/dev/vdb", "wipeTable": true}],
			            "files": [{"path": "/etc/f", "contents": {"source": "data:,f"}}]}}`,
		flags: []string{"--ignore-unsupported"},
		out: []string{
			`(?m)^WARNING.*ignoring storage\.disks: not supported by ignition-apply`,
			`(?m)^WARNING.*ignoring kernelArguments: not supported by ignition-apply`,
			`ignition-apply finished successfully`,
		},
		notOut: []string{`CRITICAL`},
		want:   []expect{file{path: "/etc/f", contents: "f", mode: 0o644}},
	},
	{
		name:      "missing TFTP file fails and applies nothing",
		config:    applyAll,
		remote:    map[string][]byte{"/readme": []byte("over HTTP\n")},
		tftp:      map[string][]byte{},
		code:      1,
		out:       []string{`(?m)^CRITICAL.*storage\.files\.2 \(/boot/from-tftp\).*"pxe/file" not found`},
		untouched: true,
	},
}

// jsonFile expects a regular file holding a JSON object.
type jsonFile struct{ path string }

func (e jsonFile) check(t *testing.T, root string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, e.path))
	if err != nil {
		t.Errorf("%s: %v", e.path, err)
		return
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Errorf("%s: not a JSON object: %v\n%s", e.path, err, raw)
	}
}

// snapshot describes every node under root: type, mode, owner, contents
// or link target.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		switch {
		case fi.Mode().IsRegular():
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(raw)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		out[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestApply(t *testing.T) {
	names := map[string]bool{}
	for _, c := range applyCases {
		if names[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		names[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			applyRun(t, c)
		})
	}
}

func applyRun(t *testing.T, c applyCase) {
	needHarness(t)
	tmp := t.TempDir()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := c.remote[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	urls := servers{URL: srv.URL}
	if c.tftp != nil {
		urls.TFTP = startTFTP(t, c.tftp, nil)
	}
	config := render(t, "config", c.config, urls)
	configFile := filepath.Join(tmp, "config.ign")
	writeFile(t, configFile, config, 0o644)

	root := filepath.Join(tmp, "root")
	for p, f := range defaultSeed {
		writeFile(t, filepath.Join(root, p), []byte(f.contents), f.mode)
	}
	before := snapshot(t, root)

	stubLog := filepath.Join(tmp, "stub.log")
	args := append([]string{"--root", root}, c.flags...)
	var cmd *exec.Cmd
	if slices.Contains(c.flags, "-") {
		cmd = exec.Command(harness.apply, args...)
		cmd.Stdin = strings.NewReader(string(config))
	} else {
		cmd = exec.Command(harness.apply, append(args, configFile)...)
	}
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "IGNITION_STUB_LOG=" + stubLog}
	cmd.Dir = tmp
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	code := cmd.ProcessState.ExitCode()
	if err != nil && code <= 0 {
		t.Fatalf("running ignition-apply: %v", err)
	}
	if code != c.code {
		t.Errorf("exit %d, want %d", code, c.code)
	}
	for _, re := range c.out {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %q", re)
		}
	}
	for _, re := range c.notOut {
		if regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output matches %q", re)
		}
	}

	var want [][]string
	for _, argv := range c.commands {
		w := slices.Clone(argv)
		for i, a := range w {
			if a == "ROOT" {
				w[i] = root
			}
		}
		want = append(want, w)
	}
	if got := readStubLog(t, stubLog); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("host commands run:\n%q\nwant:\n%q", got, want)
	}

	for _, e := range c.want {
		e.check(t, root)
	}
	noTempFiles(t, root)
	if c.untouched {
		after := snapshot(t, root)
		for p, d := range after {
			if before[p] != d {
				t.Errorf("%s changed: %q, was %q", p, d, before[p])
			}
		}
		for p := range before {
			if _, ok := after[p]; !ok {
				t.Errorf("%s removed", p)
			}
		}
	}
	if t.Failed() {
		t.Logf("ignition-apply %s output:\n%s", strings.Join(cmd.Args[1:], " "), out)
	}
}
