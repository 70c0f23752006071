package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/providers/file"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/exec"
	"github.com/ignition-go/ignition/internal/resource"
)

// machine is a fake host under a temp dir: config dirs, kernel command
// line and platform config file reached through environment overrides,
// the files the stages share, and a target root.
type machine struct {
	t                                    *testing.T
	dir, root                            string
	configFile, cache, neednet, stateDir string
	env                                  map[string]string
	cmds                                 *recorder
}

func newMachine(t *testing.T) *machine {
	t.Helper()
	dir := t.TempDir()
	m := &machine{
		t:          t,
		dir:        dir,
		root:       filepath.Join(dir, "sysroot"),
		configFile: filepath.Join(dir, "config.ign"),
		cache:      filepath.Join(dir, "run/ignition.json"),
		neednet:    filepath.Join(dir, "run/ignition/neednet"),
		stateDir:   filepath.Join(dir, "run/ignition"),
		cmds:       &recorder{},
	}
	m.env = map[string]string{
		exec.KernelCmdlineEnv:    filepath.Join(dir, "proc/cmdline"),
		exec.SystemConfigDirEnv:  filepath.Join(dir, "usr/lib/ignition"),
		exec.LocalConfigDirEnv:   filepath.Join(dir, "etc/ignition"),
		exec.RuntimeConfigDirEnv: filepath.Join(dir, "run/ignition"),
		file.ConfigFileEnv:       m.configFile,
	}
	if err := os.MkdirAll(m.root, 0o755); err != nil {
		t.Fatal(err)
	}
	m.write(filepath.Join(dir, "boot_id"), "d82970dc-6fea-43c6-bcf0-8ec547e8a989\n")
	return m
}

func (m *machine) write(path, content string) {
	m.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

func (m *machine) stateFile() string { return filepath.Join(m.stateDir, "state") }

// ignition runs the command with the machine's paths and the extra args.
func (m *machine) ignition(args ...string) (code int, stdout, stderr string) {
	m.t.Helper()
	full := append([]string{
		"-platform", "file", "-log-to-stdout",
		"-root", m.root, "-config-cache", m.cache, "-neednet", m.neednet, "-state-file", m.stateFile(),
	}, args...)
	var out, errb bytes.Buffer
	code = run(context.Background(), full, &out, &errb, m.host())
	return code, out.String(), errb.String()
}

func (m *machine) host() hostEnv {
	h := hostEnv{
		Getenv: func(k string) (string, bool) {
			v, ok := m.env[k]
			return v, ok
		},
		Commands:      m.cmds,
		DeviceTimeout: 100 * time.Millisecond,
		Mounted:       func(string) (bool, error) { return true, nil }, // the recorder only pretends to mount
		BootIDFile:    filepath.Join(m.dir, "boot_id"),
		FetchOptions:  resource.Options{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, Total: 10 * time.Second},
	}
	if os.Geteuid() != 0 {
		h.Owners = noOwners{}
	}
	return h
}

// cacheConfig writes raw (a config) to the cache as the fetch stage would.
func (m *machine) cacheConfig(raw string) {
	m.t.Helper()
	cfg, rpt, err := config.Parse([]byte(raw))
	if err != nil {
		m.t.Fatalf("test config: %v\n%s", err, rpt)
	}
	if err := exec.WriteCache(m.cache, cfg); err != nil {
		m.t.Fatal(err)
	}
}

func (m *machine) state() state {
	m.t.Helper()
	raw, err := os.ReadFile(m.stateFile())
	if err != nil {
		m.t.Fatal(err)
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		m.t.Fatal(err)
	}
	return st
}

type recorder struct{ argv [][]string }

func (r *recorder) Run(_ context.Context, argv []string) error {
	r.argv = append(r.argv, argv)
	return nil
}

func (r *recorder) Output(ctx context.Context, argv []string) ([]byte, error) {
	return nil, r.Run(ctx, argv)
}

// noOwners stands in for chown when the tests are not run as root.
type noOwners struct{}

func (noOwners) File(*os.File, int, int) error         { return nil }
func (noOwners) Path(*os.Root, string, int, int) error { return nil }
func criticals(stdout string) (lines []string) {
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "CRITICAL") {
			lines = append(lines, l)
		}
	}
	return lines
}

// failedLines are the final failure lines.
func failedLines(stdout string) (lines []string) {
	for _, l := range strings.Split(stdout, "\n") {
		if strings.Contains(l, "Ignition failed") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestUsage(t *testing.T) {
	m := newMachine(t)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no stage", []string{"-platform", "file"}, 1, "-stage is required"},
		{"unknown stage", []string{"-platform", "file", "-stage", "bogus"}, 1, `unknown stage "bogus"`},
		{"unknown stage, double dash", []string{"--platform", "file", "--stage", "bogus"}, 1, `unknown stage "bogus"`},
		{"no platform", []string{"-stage", "files"}, 1, "-platform is required"},
		{"unknown platform", []string{"--platform=nowhere", "--stage=files"}, 1, `unknown platform "nowhere"`},
		{"unknown flag", []string{"--bogus"}, 1, "flag provided but not defined: -bogus"},
		{"stray argument", []string{"-platform", "file", "-stage", "files", "extra"}, 1, "unexpected arguments: extra"},
		{"bad timeout", []string{"-platform", "file", "-stage", "fetch", "-fetch-timeout", "0s"}, 1, "-fetch-timeout must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errb, m.host())
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr %q does not contain %q", errb.String(), tc.stderr)
			}
			if tc.code != 0 && !strings.Contains(errb.String(), "Usage:") {
				t.Errorf("no usage in stderr %q", errb.String())
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q", out.String())
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"-version", "--version"} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{arg}, &out, &errb, hostEnv{}); code != 0 {
			t.Errorf("%s: exit %d", arg, code)
		}
		if out.String() != "ignition was-not-built-properly\n" {
			t.Errorf("%s: %q", arg, out.String())
		}
	}
}

func TestFetchOfflineWritesCache(t *testing.T) {
	m := newMachine(t)
	m.write(m.configFile, `{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/etc/motd", "contents": {"source": "data:,hello"}}]}}`)
	code, stdout, _ := m.ignition("--stage", "fetch-offline")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	cfg, err := exec.ReadCache(m.cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Storage.Files) != 1 || cfg.Storage.Files[0].Path != "/etc/motd" {
		t.Errorf("cached config %+v", cfg.Storage)
	}
	if _, err := os.Stat(m.neednet); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("neednet written: %v", err)
	}
	if st := m.state(); !reflect.DeepEqual(st, state{Stages: []string{"fetch-offline"}, UserConfigProvided: true}) {
		t.Errorf("state %+v", st)
	}
	if len(criticals(stdout)) != 0 || !strings.Contains(stdout, "Ignition finished successfully") {
		t.Errorf("log:\n%s", stdout)
	}
	if strings.Contains(stdout, "data:,hello") {
		t.Errorf("the config was logged:\n%s", stdout)
	}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if strings.Contains(l, "op(") && !strings.Contains(l, ": fetch-offline: ") {
			t.Errorf("stage line without the stage prefix: %q", l)
		}
	}

	// fetch then finds the cache and keeps the state's answer.
	code, stdout, _ = m.ignition("-stage", "fetch")
	if code != 0 || !strings.Contains(stdout, "using the config cached") {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	if st := m.state(); !reflect.DeepEqual(st, state{Stages: []string{"fetch-offline", "fetch"}, UserConfigProvided: true}) {
		t.Errorf("state %+v", st)
	}
}

func TestFetchOfflineNeedsNetwork(t *testing.T) {
	m := newMachine(t)
	m.write(m.configFile, `{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": "http://127.0.0.1:9/child.ign"}]}}}`)
	code, stdout, _ := m.ignition("-stage", "fetch-offline")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	if _, err := os.Stat(m.neednet); err != nil {
		t.Errorf("neednet: %v", err)
	}
	if _, err := os.Stat(m.cache); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cache written: %v", err)
	}
	if !strings.Contains(stdout, "fetch-offline: the config needs the network") || len(criticals(stdout)) != 0 {
		t.Errorf("log:\n%s", stdout)
	}
}

func TestFetchFromServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/etc/child"}]}}`)
	}))
	defer srv.Close()
	m := newMachine(t)
	m.write(m.configFile, `{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": "`+srv.URL+`/child.ign"}]}}}`)
	if code, stdout, _ := m.ignition("-stage", "fetch"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	cfg, err := exec.ReadCache(m.cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Storage.Files) != 1 || cfg.Storage.Files[0].Path != "/etc/child" {
		t.Errorf("cached config %+v", cfg.Storage)
	}
}

func TestFetchTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	m := newMachine(t)
	m.write(m.configFile, `{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": "`+srv.URL+`/slow.ign"}]}}}`)
	start := time.Now()
	code, stdout, _ := m.ignition("-stage", "fetch", "-fetch-timeout", "300ms")
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if f := failedLines(stdout); len(f) != 1 || !strings.HasPrefix(f[0], "CRITICAL : Ignition failed: fetch: ") {
		t.Errorf("failure lines %q\n%s", f, stdout)
	}
}

func TestFilesStage(t *testing.T) {
	m := newMachine(t)
	m.write(m.configFile, `{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/etc/motd", "mode": 416, "contents": {"source": "data:,hello%0A"}}]}}`)
	if code, stdout, _ := m.ignition("-stage", "fetch-offline"); code != 0 {
		t.Fatalf("fetch-offline: exit %d\n%s", code, stdout)
	}
	code, stdout, _ := m.ignition("-stage", "files")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	p := filepath.Join(m.root, "etc/motd")
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "hello\n" {
		t.Fatalf("motd %q %v", b, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	if os.Geteuid() == 0 {
		if sys := fi.Sys().(*syscall.Stat_t); sys.Uid != 0 || sys.Gid != 0 {
			t.Errorf("owner %d:%d", sys.Uid, sys.Gid)
		}
	}
	raw, err := os.ReadFile(filepath.Join(m.root, "etc/.ignition-result.json"))
	if err != nil || !strings.Contains(string(raw), `"userConfigProvided":true`) {
		t.Errorf("result %s %v", raw, err)
	}
	if !strings.Contains(stdout, `INFO     : files: op(`) || len(criticals(stdout)) != 0 {
		t.Errorf("log:\n%s", stdout)
	}
	if st := m.state(); !reflect.DeepEqual(st.Stages, []string{"fetch-offline", "files"}) {
		t.Errorf("state %+v", st)
	}
}

func TestFilesStageFailure(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	m := newMachine(t)
	m.cacheConfig(`{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/etc/missing", "contents": {"source": "` + srv.URL + `/missing"}}]}}`)
	code, stdout, _ := m.ignition("-stage", "files")
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	f := failedLines(stdout)
	if len(f) != 1 {
		t.Fatalf("%d failure lines:\n%s", len(f), stdout)
	}
	if !strings.HasPrefix(f[0], "CRITICAL : Ignition failed: files: ") || !strings.Contains(f[0], "storage.files.0") || !strings.Contains(f[0], "404") {
		t.Errorf("failure line %q", f[0])
	}
	if strings.Contains(stdout, "Ignition finished successfully") {
		t.Errorf("log:\n%s", stdout)
	}
	// The other CRITICAL lines are the [failed] lines of the operations
	// that failed on the way.
	for _, l := range criticals(stdout) {
		if l != f[0] && !strings.HasPrefix(l, "CRITICAL : files: op(") {
			t.Errorf("stray CRITICAL line %q", l)
		}
	}
	if _, err := os.Lstat(filepath.Join(m.root, "etc/missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file written: %v", err)
	}
	if _, err := os.Stat(m.stateFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed stage was recorded: %v", err)
	}
}

func TestNoCache(t *testing.T) {
	m := newMachine(t)
	code, stdout, _ := m.ignition("-stage", "mount")
	if f := failedLines(stdout); code != 1 || len(f) != 1 || !strings.Contains(f[0], "Ignition failed: mount: reading the config cache") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
}

func TestDisks(t *testing.T) {
	for _, tc := range []struct {
		name, storage string
		ok            bool
		mention       string
	}{
		{"nothing", `{"files": [{"path": "/etc/x"}]}`, true, ""},
		{"mount only", `{"filesystems": [{"device": "share", "format": "virtiofs", "path": "/srv"}]}`, true, ""},
		// A device that never appears fails the stage naming the entry;
		// the tests wait 100ms (DeviceTimeout in newMachine).
		{"disks", `{"disks": [{"device": "/dev/no-such-vda", "wipeTable": true}]}`, false, "storage.disks.0: device /dev/no-such-vda did not appear within 100ms"},
		{"raid", `{"raid": [{"name": "md0", "level": "raid1", "devices": ["/dev/no-such-vdb", "/dev/no-such-vdc"]}]}`, false, "storage.raid.0 (md0): device /dev/no-such-vdb did not appear"},
		{"luks", `{"luks": [{"name": "data", "device": "/dev/no-such-vdb"}]}`, false, "storage.luks.0 (data): device /dev/no-such-vdb did not appear"},
		{"filesystem", `{"filesystems": [{"device": "/dev/no-such-vdb", "format": "ext4", "path": "/var"}]}`, false, "storage.filesystems.0: device /dev/no-such-vdb did not appear"},
		{"not a block device", `{"filesystems": [{"device": "/dev/null", "format": "ext4", "path": "/var"}]}`, false, "storage.filesystems.0: /dev/null is not a block device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t)
			version := "3.4.0"
			if strings.Contains(tc.storage, "virtiofs") {
				version = "3.7.0-experimental"
			}
			m.cacheConfig(`{"ignition": {"version": "` + version + `"}, "storage": ` + tc.storage + `}`)
			code, stdout, _ := m.ignition("-stage", "disks")
			if tc.ok {
				if code != 0 || !strings.Contains(stdout, "INFO     : disks: nothing to do\n") || len(criticals(stdout)) != 0 {
					t.Errorf("exit %d\n%s", code, stdout)
				}
				return
			}
			f := failedLines(stdout)
			if code != 1 || len(f) != 1 || !strings.Contains(f[0], "Ignition failed: disks: "+tc.mention) {
				t.Errorf("exit %d\n%s", code, stdout)
			}
		})
	}
}

func TestMountUmountKargs(t *testing.T) {
	m := newMachine(t)
	m.cacheConfig(`{"ignition": {"version": "3.4.0"},
		"kernelArguments": {"shouldExist": ["quiet"], "shouldNotExist": ["rhgb"]},
		"storage": {"filesystems": [
			{"device": "/dev/vdb2", "format": "xfs", "path": "/var/log"},
			{"device": "/dev/vdb1", "format": "ext4", "path": "/var", "mountOptions": ["noatime"]}]}}`)
	for _, stage := range []string{"kargs", "mount", "umount"} {
		if code, stdout, _ := m.ignition("-stage", stage); code != 0 {
			t.Fatalf("%s: exit %d\n%s", stage, code, stdout)
		}
	}
	want := [][]string{
		{"ignition-kargs-helper", "--should-exist", "quiet", "--should-not-exist", "rhgb"},
		{"mount", "-t", "ext4", "-o", "noatime", "/dev/vdb1", filepath.Join(m.root, "var")},
		{"mount", "-t", "xfs", "/dev/vdb2", filepath.Join(m.root, "var/log")},
		{"umount", filepath.Join(m.root, "var/log")},
		{"umount", filepath.Join(m.root, "var")},
	}
	if !reflect.DeepEqual(m.cmds.argv, want) {
		t.Errorf("commands:\n got %q\nwant %q", m.cmds.argv, want)
	}
	if st := m.state(); !reflect.DeepEqual(st.Stages, []string{"kargs", "mount", "umount"}) {
		t.Errorf("state %+v", st)
	}
}

func TestCorruptedStateFile(t *testing.T) {
	m := newMachine(t)
	m.cacheConfig(`{"ignition": {"version": "3.4.0"}}`)
	m.write(m.stateFile(), "{not json")
	code, stdout, _ := m.ignition("-stage", "kargs")
	if f := failedLines(stdout); code != 1 || len(f) != 1 || !strings.Contains(f[0], "state file") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
}

// TestFailureLineCarriesTheReport: an invalid config's report spans lines;
// the one "Ignition failed" line must still say what is wrong and where.
func TestFailureLineCarriesTheReport(t *testing.T) {
	m := newMachine(t)
	m.write(m.configFile, "{\"ignition\": {\"version\": \"3.4.0\"},\n \"storage\": {\"files\": [{\"path\": \"relative\"}]}}")
	code, stdout, _ := m.ignition("-stage", "fetch-offline")
	f := failedLines(stdout)
	if code != 1 || len(f) != 1 {
		t.Fatalf("exit %d, failure lines %q\n%s", code, f, stdout)
	}
	if !strings.Contains(f[0], "error at $.storage.files.0.path, line 2 col 33: path not absolute") {
		t.Errorf("the failure line lacks the report: %q", f[0])
	}
}
