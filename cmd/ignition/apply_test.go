package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/distro"
	"github.com/ignition-go/ignition/internal/resource"
	"github.com/ignition-go/ignition/internal/version"
)

// applyHost is a fake host for ignition-apply: a target root under a temp
// dir, recorded commands, and useradd found on PATH unless noShadow.
type applyHost struct {
	t        *testing.T
	dir      string
	root     string
	cmds     *recorder
	noShadow bool
}

func newApplyHost(t *testing.T) *applyHost {
	t.Helper()
	dir := t.TempDir()
	h := &applyHost{t: t, dir: dir, root: filepath.Join(dir, "root"), cmds: &recorder{}}
	if err := os.MkdirAll(h.root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "boot_id"), []byte("0f6c4b43-9b0e-4a8f-a8a5-3c0f3c4f1b2d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *applyHost) env() hostEnv {
	e := hostEnv{
		Commands:     h.cmds,
		BootIDFile:   filepath.Join(h.dir, "boot_id"),
		FetchOptions: resource.Options{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, Total: 10 * time.Second},
		LookPath: func(file string) (string, error) {
			if h.noShadow {
				return "", errors.New(`exec: "` + file + `": executable file not found in $PATH`)
			}
			return "/usr/sbin/" + file, nil
		},
	}
	if os.Geteuid() != 0 {
		e.Owners = noOwners{}
	}
	return e
}

// configFile writes a config into the temp dir (outside the root).
func (h *applyHost) configFile(raw string) string {
	h.t.Helper()
	p := filepath.Join(h.dir, "config.ign")
	if err := os.WriteFile(p, []byte(raw), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// apply runs the binary as ignition-apply, by its program name, with
// --root set to the host's root unless args already give one.
func (h *applyHost) apply(stdin string, args ...string) (code int, stdout, stderr string) {
	h.t.Helper()
	argv := append([]string{"/usr/local/bin/ignition-apply", "--root", h.root}, args...)
	var out, errb bytes.Buffer
	code = dispatch(context.Background(), argv, strings.NewReader(stdin), &out, &errb, h.env())
	return code, out.String(), errb.String()
}

// rootEntries lists everything under the root, relative to it.
func (h *applyHost) rootEntries() []string {
	h.t.Helper()
	var got []string
	err := filepath.WalkDir(h.root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != h.root {
			rel, _ := filepath.Rel(h.root, p)
			got = append(got, rel)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return got
}

func (h *applyHost) read(rel string) string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.root, rel))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

func linesWith(stdout, prefix string) (lines []string) {
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, prefix) {
			lines = append(lines, l)
		}
	}
	return lines
}

// applyFailed are the final failure lines.
func applyFailed(stdout string) []string {
	return linesWith(stdout, "CRITICAL : ignition-apply failed: ")
}

func TestDispatchByProgramName(t *testing.T) {
	for _, tc := range []struct {
		argv0, want string
	}{
		{"ignition-apply", "ignition-apply " + version.Raw + "\n"},
		{"/usr/bin/ignition-apply", "ignition-apply " + version.Raw + "\n"},
		{"./bin/ignition", "ignition " + version.Raw + "\n"},
		{"/usr/lib/dracut/modules.d/30ignition/ignition", "ignition " + version.Raw + "\n"},
		{"ignition-apply-not", "ignition " + version.Raw + "\n"},
	} {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), []string{tc.argv0, "--version"}, strings.NewReader(""), &out, &errb, hostEnv{})
		if code != 0 || out.String() != tc.want {
			t.Errorf("%s --version: exit %d, stdout %q, want %q (stderr %q)", tc.argv0, code, out.String(), tc.want, errb.String())
		}
	}
	// The ignition stages' flags mean nothing to ignition-apply, and the
	// other way round.
	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), []string{"ignition-apply", "-stage", "files"}, strings.NewReader(""), &out, &errb, hostEnv{}); code != 1 ||
		!strings.Contains(errb.String(), "flag provided but not defined: -stage") {
		t.Errorf("ignition-apply -stage: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := dispatch(context.Background(), []string{"ignition", "--offline"}, strings.NewReader(""), &out, &errb, hostEnv{}); code != 1 ||
		!strings.Contains(errb.String(), "flag provided but not defined: -offline") {
		t.Errorf("ignition --offline: exit %d, stderr %q", code, errb.String())
	}
}

func TestApplyUsage(t *testing.T) {
	h := newApplyHost(t)
	cfg := h.configFile(`{"ignition": {"version": "3.4.0"}}`)
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no config", nil, "a config file (or - for stdin) is required"},
		{"two configs", []string{cfg, cfg}, "unexpected arguments: " + cfg},
		{"unknown flag", []string{"--bogus", cfg}, "flag provided but not defined: -bogus"},
		{"empty root", []string{"--root", "", cfg}, "--root must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := h.apply("", tc.args...)
			if code != 1 || !strings.Contains(stderr, tc.stderr) || !strings.Contains(stderr, "Usage:") || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, tc.stderr)
			}
		})
	}
	if got := h.rootEntries(); len(got) != 0 {
		t.Errorf("root holds %q", got)
	}
}

const applyConfig = `{
  "ignition": {"version": "3.4.0"},
  "storage": {
    "directories": [{"path": "/var/lib/app", "mode": 448}],
    "files": [
      {"path": "/etc/motd", "mode": 416, "contents": {"source": "data:,hello%0A"}},
      {"path": "/etc/app.conf", "contents": {"source": "data:;base64,a2V5PXZhbHVlCg=="}, "append": [{"source": "data:,more%0A"}]}
    ],
    "links": [{"path": "/etc/localtime", "target": "/usr/share/zoneinfo/UTC"}]
  },
  "systemd": {"units": [
    {"name": "app.service", "enabled": true, "contents": "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"},
    {"name": "getty@.service", "dropins": [{"name": "10-auto.conf", "contents": "[Service]\nTTYVTDisallocate=no\n"}]},
    {"name": "serial-getty@ttyS0.service", "enabled": true},
    {"name": "serial-getty@ttyS1.service", "enabled": true},
    {"name": "old.service", "enabled": false},
    {"name": "bad.service", "mask": true}
  ]}
}`

func checkApplied(t *testing.T, h *applyHost) {
	t.Helper()
	if got := h.read("etc/motd"); got != "hello\n" {
		t.Errorf("motd %q", got)
	}
	if fi, err := os.Stat(filepath.Join(h.root, "etc/motd")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("motd mode %v %v", fi, err)
	}
	if got := h.read("etc/app.conf"); got != "key=value\nmore\n" {
		t.Errorf("app.conf %q", got)
	}
	if fi, err := os.Stat(filepath.Join(h.root, "var/lib/app")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory %v %v", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(h.root, "etc/localtime")); err != nil || target != "/usr/share/zoneinfo/UTC" {
		t.Errorf("link %q %v", target, err)
	}
	if got := h.read("etc/systemd/system/app.service"); !strings.Contains(got, "ExecStart=/bin/true") {
		t.Errorf("unit %q", got)
	}
	if got := h.read("etc/systemd/system/getty@.service.d/10-auto.conf"); got != "[Service]\nTTYVTDisallocate=no\n" {
		t.Errorf("dropin %q", got)
	}
	if target, err := os.Readlink(filepath.Join(h.root, "etc/systemd/system/bad.service")); err != nil || target != "/dev/null" {
		t.Errorf("mask %q %v", target, err)
	}
	want := "enable app.service\nenable serial-getty@.service ttyS0 ttyS1\ndisable old.service\n"
	if got := h.read("etc/systemd/system-preset/20-ignition.preset"); got != want {
		t.Errorf("presets:\n%s\nwant:\n%s", got, want)
	}
	if got := h.read("etc/.ignition-result.json"); !strings.Contains(got, `"userConfigProvided":true`) {
		t.Errorf("result %s", got)
	}
}

func TestApplyFile(t *testing.T) {
	h := newApplyHost(t)
	code, stdout, stderr := h.apply("", h.configFile(applyConfig))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	checkApplied(t, h)
	if !strings.HasPrefix(stdout, "INFO     : ignition-apply "+version.Raw+"\n") ||
		!strings.HasSuffix(stdout, "INFO     : ignition-apply finished successfully\n") ||
		!strings.Contains(stdout, "INFO     : op(") || len(criticals(stdout)) != 0 || stderr != "" {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	if len(h.cmds.argv) != 0 {
		t.Errorf("ran %q", h.cmds.argv)
	}
}

func TestApplyStdin(t *testing.T) {
	h := newApplyHost(t)
	code, stdout, _ := h.apply(applyConfig, "-")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	checkApplied(t, h)
}

func TestApplyDefaultRootFlagOrder(t *testing.T) {
	// Flags given with one dash work too, and --root may come last among
	// the flags (the helper's --root is overridden).
	h := newApplyHost(t)
	other := filepath.Join(h.dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := h.apply(`{"ignition": {"version": "3.0.0"}, "storage": {"files": [{"path": "/x", "contents": {"source": "data:,x"}}]}}`, "-root", other, "-")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	if b, err := os.ReadFile(filepath.Join(other, "x")); err != nil || string(b) != "x" {
		t.Errorf("x %q %v", b, err)
	}
	if got := h.rootEntries(); len(got) != 0 {
		t.Errorf("the overridden root holds %q", got)
	}
}

func TestApplyInvalidConfig(t *testing.T) {
	h := newApplyHost(t)
	invalid := "{\"ignition\": {\"version\": \"3.4.0\"},\n \"storage\": {\"files\": [{\"path\": 7}]}, \"extra\": 1}"
	for _, tc := range []struct {
		name, stdin string
		args        []string
	}{
		{"file", "", []string{h.configFile(invalid)}},
		{"stdin", invalid, []string{"-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, _ := h.apply(tc.stdin, tc.args...)
			if code != 1 {
				t.Fatalf("exit %d\n%s", code, stdout)
			}
			for _, want := range []string{
				"\nerror at $.storage.files.0.path, line 2 col 33: type mismatch: expected string, found number\n",
				"\nwarning at $.extra, line 2 col 39: unused key extra\n",
				"\nCRITICAL : ignition-apply failed: the config is not valid\n",
			} {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
		})
	}
	for _, tc := range []struct{ name, raw, crit string }{
		{"empty", "", "CRITICAL : ignition-apply failed: couldn't parse config: not a config (empty)"},
		{"missing file", "", "CRITICAL : ignition-apply failed: couldn't read config: open "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := h.configFile(tc.raw)
			if tc.name == "missing file" {
				p = filepath.Join(h.dir, "nope.ign")
			}
			code, stdout, _ := h.apply("", p)
			if c := criticals(stdout); code != 1 || len(c) != 1 || !strings.HasPrefix(c[0], tc.crit) {
				t.Errorf("exit %d, criticals %q, want %q", code, c, tc.crit)
			}
		})
	}
	if got := h.rootEntries(); len(got) != 0 {
		t.Errorf("root holds %q", got)
	}
}

func TestApplyOffline(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/motd":
			w.Write([]byte("from the network\n"))
		case "/child.ign":
			w.Write([]byte(`{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/etc/child", "contents": {"source": "data:,child"}}]}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	fileCfg := `{"ignition": {"version": "3.4.0"}, "storage": {"files": [
		{"path": "/etc/local", "contents": {"source": "data:,local"}},
		{"path": "/etc/motd", "contents": {"source": "` + srv.URL + `/motd"}}]}}`
	mergeCfg := `{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": "` + srv.URL + `/child.ign"}]}}}`

	for _, tc := range []struct {
		name, cfg, where string
	}{
		{"file contents", fileCfg, "storage.files.1"},
		{"merged config", mergeCfg, "ignition.config.merge.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newApplyHost(t)
			code, stdout, _ := h.apply(tc.cfg, "--offline", "-")
			if code != 1 {
				t.Fatalf("exit %d\n%s", code, stdout)
			}
			c := applyFailed(stdout)
			if len(c) != 1 || !strings.Contains(c[0], tc.where) || !strings.Contains(c[0], srv.URL) ||
				!strings.Contains(c[0], "needs the network") || !strings.Contains(c[0], "--offline allows only data: URLs") {
				t.Errorf("criticals %q", c)
			}
			if got := h.rootEntries(); len(got) != 0 {
				t.Errorf("root holds %q", got)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("%d requests offline", n)
			}
		})
	}

	// The same configs apply with the network.
	h := newApplyHost(t)
	if code, stdout, _ := h.apply(fileCfg, "-"); code != 0 {
		t.Fatalf("online: exit %d\n%s", code, stdout)
	}
	if got := h.read("etc/motd"); got != "from the network\n" {
		t.Errorf("motd %q", got)
	}
	if code, stdout, _ := h.apply(mergeCfg, "-"); code != 0 {
		t.Fatalf("online merge: exit %d\n%s", code, stdout)
	}
	if got := h.read("etc/child"); got != "child" {
		t.Errorf("child %q", got)
	}
}

func TestApplyUnsupported(t *testing.T) {
	cfg := `{"ignition": {"version": "3.4.0"},
	  "kernelArguments": {"shouldNotExist": ["quiet"]},
	  "storage": {
	    "disks": [{"device": "/dev/vdb", "wipeTable": true}],
	    "raid": [{"name": "md0", "level": "raid1", "devices": ["/dev/vdc", "/dev/vdd"]}],
	    "luks": [{"name": "secret", "device": "/dev/md/md0"}],
	    "filesystems": [{"device": "/dev/mapper/secret", "format": "xfs", "path": "/var"}],
	    "files": [{"path": "/etc/motd", "contents": {"source": "data:,hi"}}]
	  }}`
	sections := []string{"storage.disks", "storage.raid", "storage.luks", "storage.filesystems", "kernelArguments"}

	h := newApplyHost(t)
	code, stdout, _ := h.apply(cfg, "-")
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	c := criticals(stdout)
	if len(c) != 1 {
		t.Fatalf("criticals %q", c)
	}
	for _, s := range sections {
		if !strings.Contains(c[0], s+": not supported by ignition-apply") {
			t.Errorf("%q does not name %s", c[0], s)
		}
	}
	if got := h.rootEntries(); len(got) != 0 {
		t.Errorf("root holds %q", got)
	}
	if len(h.cmds.argv) != 0 {
		t.Errorf("ran %q", h.cmds.argv)
	}

	code, stdout, _ = h.apply(cfg, "--ignore-unsupported", "-")
	if code != 0 {
		t.Fatalf("--ignore-unsupported: exit %d\n%s", code, stdout)
	}
	var want []string
	for _, s := range sections {
		want = append(want, "WARNING  : ignoring "+s+": not supported by ignition-apply")
	}
	if got := linesWith(stdout, "WARNING"); !reflect.DeepEqual(got, []string{want[0], want[1], want[2], want[3], want[4]}) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := h.read("etc/motd"); got != "hi" {
		t.Errorf("motd %q", got)
	}
	if len(h.cmds.argv) != 0 {
		t.Errorf("ran %q", h.cmds.argv)
	}
}

func TestApplyUnsupportedInChild(t *testing.T) {
	// A section a merged child brings is as unsupported as one in the
	// top config.
	child := `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "/dev/vdb", "wipeTable": true}]}}`
	cfg := `{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": "data:;base64,` + base64.StdEncoding.EncodeToString([]byte(child)) + `"}]}}}`
	h := newApplyHost(t)
	code, stdout, _ := h.apply(cfg, "--offline", "-")
	if c := criticals(stdout); code != 1 || len(c) != 1 || !strings.Contains(c[0], "storage.disks: not supported by ignition-apply") {
		t.Errorf("exit %d, criticals %q\n%s", code, c, stdout)
	}
}

func TestApplyPasswd(t *testing.T) {
	cfg := `{"ignition": {"version": "3.4.0"},
	  "passwd": {"groups": [{"name": "ops"}], "users": [{"name": "alice", "groups": ["ops"]}]},
	  "storage": {"files": [{"path": "/etc/motd", "contents": {"source": "data:,hi"}}]}}`

	t.Run("shadow-utils found", func(t *testing.T) {
		h := newApplyHost(t)
		code, stdout, _ := h.apply(cfg, "-")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stdout)
		}
		var ran []string
		for _, argv := range h.cmds.argv {
			ran = append(ran, argv[0])
			if len(argv) < 3 || argv[1] != "--root" || argv[2] != h.root {
				t.Errorf("%q does not run on the root", argv)
			}
		}
		if !reflect.DeepEqual(ran, []string{distro.GroupaddCmd(), distro.UseraddCmd()}) {
			t.Errorf("ran %q", h.cmds.argv)
		}
	})

	t.Run("no shadow-utils", func(t *testing.T) {
		h := newApplyHost(t)
		h.noShadow = true
		code, stdout, _ := h.apply(cfg, "-")
		c := criticals(stdout)
		if code != 1 || len(c) != 1 || !strings.Contains(c[0], "passwd: not supported by ignition-apply on this host: the shadow-utils are needed for users and groups: ") ||
			!strings.Contains(c[0], distro.UseraddCmd()) {
			t.Errorf("exit %d, criticals %q\n%s", code, c, stdout)
		}
		if got := h.rootEntries(); len(got) != 0 {
			t.Errorf("root holds %q", got)
		}

		code, stdout, _ = h.apply(cfg, "--ignore-unsupported", "-")
		if code != 0 {
			t.Fatalf("--ignore-unsupported: exit %d\n%s", code, stdout)
		}
		if w := linesWith(stdout, "WARNING"); len(w) != 1 || !strings.HasPrefix(w[0], "WARNING  : ignoring passwd: not supported by ignition-apply on this host") {
			t.Errorf("warnings %q", w)
		}
		if len(h.cmds.argv) != 0 {
			t.Errorf("ran %q", h.cmds.argv)
		}
		if got := h.read("etc/motd"); got != "hi" {
			t.Errorf("motd %q", got)
		}
	})

	t.Run("no users, no lookup", func(t *testing.T) {
		h := newApplyHost(t)
		h.noShadow = true
		if code, stdout, _ := h.apply(`{"ignition": {"version": "3.4.0"}}`, "-"); code != 0 || len(linesWith(stdout, "WARNING")) != 0 {
			t.Errorf("exit %d\n%s", code, stdout)
		}
	})
}
