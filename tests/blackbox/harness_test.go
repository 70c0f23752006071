package blackbox

// The provisioning harness: every scenario gets a fresh disk image with a
// GPT partition labelled ROOT holding an ext4 filesystem, attached to a
// loop device and mounted at a temp dir the way an initramfs mounts
// /sysroot. The ignition binary then runs as a subprocess once per stage,
// in boot order, against that root. The results are checked from outside:
// after the last stage the harness syncs and unmounts the filesystem and
// mounts it again read-only at another dir, so what is checked is what
// reached the disk, and nothing the checks do can change it.
//
// Needs root (loop devices, mount) and sgdisk, mkfs.ext4, losetup, partx,
// mount and umount on the host; without them the tests skip, saying why.

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// stageOrder is the order the initramfs runs the stages in.
var stageOrder = []string{"fetch-offline", "fetch", "kargs", "disks", "mount", "files", "umount"}

// stubbed are the host commands the test build of ignition runs as the
// argv-recording stub: the name the stub is linked as, and the variable
// of package distro that is pointed at it.
var stubbed = map[string]string{
	"useradd":               "useraddCmd",
	"usermod":               "usermodCmd",
	"userdel":               "userdelCmd",
	"groupadd":              "groupaddCmd",
	"groupmod":              "groupmodCmd",
	"groupdel":              "groupdelCmd",
	"ignition-kargs-helper": "kargsHelperCmd",
}

// hostTools are what the harness itself runs on the host.
var hostTools = []string{"sgdisk", "mkfs.ext4", "losetup", "partx", "mount", "umount"}

// harness is what TestMain prepared for the provisioning tests.
var harness struct {
	skip     string // why the provisioning tests cannot run, if they cannot
	ignition string // the test build of the ignition binary
	apply    string // ignition-apply: a symlink to it
	stubDir  string // where the stubs are, by the names in stubbed
	buildErr error
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	switch {
	case runtime.GOOS != "linux":
		harness.skip = "provisioning scenarios need Linux"
	case os.Geteuid() != 0:
		harness.skip = "provisioning scenarios need root (loop devices, mount); run the tests as root"
	default:
		var missing []string
		for _, tool := range hostTools {
			if _, err := exec.LookPath(tool); err != nil {
				missing = append(missing, tool)
			}
		}
		if len(missing) > 0 {
			harness.skip = "provisioning scenarios need these host tools: " + strings.Join(missing, ", ") +
				" (Debian packages gdisk, e2fsprogs, mount, util-linux)"
		}
	}
	if harness.skip != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ignition-blackbox-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	harness.stubDir = dir
	harness.ignition, harness.buildErr = buildForScenarios(dir)
	if harness.buildErr == nil {
		harness.apply = filepath.Join(dir, "ignition-apply")
		harness.buildErr = os.Symlink("ignition", harness.apply)
	}
	return m.Run()
}

// buildForScenarios builds the stub (linked once per stubbed command name)
// and the ignition binary with the shadow-utils and the kargs helper
// pointed at the stubs.
func buildForScenarios(dir string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	gobuild := func(ldflags, out, pkg string) error {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
		return nil
	}
	stub := filepath.Join(dir, "stub")
	if err := gobuild("", stub, "./tests/blackbox/testdata/stub"); err != nil {
		return "", err
	}
	ldflags := []string{"-X github.com/ignition-go/ignition/internal/version.Raw=blackbox-test"}
	for name, knob := range stubbed {
		// A hard link per name, so the stub records the name it was run as.
		if err := os.Link(stub, filepath.Join(dir, name)); err != nil {
			return "", err
		}
		ldflags = append(ldflags, fmt.Sprintf("-X github.com/ignition-go/ignition/internal/distro.%s=%s",
			knob, filepath.Join(dir, name)))
	}
	ign := filepath.Join(dir, "ignition")
	if err := gobuild(strings.Join(ldflags, " "), ign, "./cmd/ignition"); err != nil {
		return "", err
	}
	return ign, nil
}

// needHarness skips t when the scenarios cannot run here and fails it when
// the binaries did not build.
func needHarness(t *testing.T) {
	t.Helper()
	if harness.skip != "" {
		t.Skip(harness.skip)
	}
	if harness.buildErr != nil {
		t.Fatal(harness.buildErr)
	}
}

// run runs a host command, failing t with its output if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// targetDisk is a scenario's disk: the image, its loop device and the
// ROOT partition's device.
type targetDisk struct {
	loop string
	part string
}

// newTargetDisk makes a sparse 64 MiB image with a GPT whose one partition
// is labelled ROOT and holds an empty ext4 filesystem, attached to a loop
// device that is detached when t ends.
func newTargetDisk(t *testing.T) targetDisk {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run(t, "sgdisk", "--clear", "--new=1:0:0", "--change-name=1:ROOT", "--typecode=1:8300", img)
	loop := run(t, "losetup", "--find", "--partscan", "--show", img)
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "--detach", loop).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v\n%s", loop, err, out)
		}
	})
	part := loop + "p1"
	deadline := time.Now().Add(5 * time.Second)
	for tries := 0; ; tries++ {
		if fi, err := os.Stat(part); err == nil && fi.Mode()&fs.ModeDevice != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear after losetup -P, partx -a and partx -u", part)
		}
		switch tries {
		case 10:
			exec.Command("partx", "-a", loop).Run() // errors show as the device not appearing
		case 20:
			exec.Command("partx", "-u", loop).Run()
		}
		time.Sleep(50 * time.Millisecond)
	}
	run(t, "mkfs.ext4", "-q", "-F", "-L", "root", part)
	return targetDisk{loop: loop, part: part}
}

// mountAt mounts dev at dir with the options given (may be empty) and
// returns a function that unmounts it; it also unmounts when t ends if
// that function was not called.
func mountAt(t *testing.T, dev, dir, opts string) (unmount func()) {
	t.Helper()
	args := []string{dev, dir}
	if opts != "" {
		args = append([]string{"-o", opts}, args...)
	}
	run(t, "mount", args...)
	mounted := true
	unmount = func() {
		if !mounted {
			return
		}
		mounted = false
		// Another process may hold the mount for a moment (something
		// probing the machine's block devices and mounts while the
		// scenarios run in parallel): a busy mount is tried again.
		for try := 0; ; try++ {
			out, err := exec.Command("umount", dir).CombinedOutput()
			if err == nil {
				return
			}
			if !strings.Contains(string(out), "busy") || try == 50 {
				t.Errorf("umount %s: %v\n%s", dir, err, out)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Cleanup(unmount)
	return unmount
}

// seedFile is a file put in the target root before the stages run.
type seedFile struct {
	contents string
	mode     fs.FileMode
}

// defaultSeed is in every target root: accounts the host does not have,
// so that owners by name must come from the target's files.
var defaultSeed = map[string]seedFile{
	"/etc/passwd": {"root:x:0:0:root:/root:/bin/bash\ncore:x:1000:1000::/home/core:/bin/bash\n", 0o644},
	"/etc/group":  {"root:x:0:\nwheel:x:10:\ncore:x:1000:\nignitionx:x:1234:\n", 0o644},
	"/etc/shadow": {"root:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\n", 0o600},
}

// stageRun is the outcome of one stage's subprocess.
type stageRun struct {
	stage string
	code  int
	out   string
}

// scenario is one provisioning run and what it must leave behind.
type scenario struct {
	name string
	// config is the user config, a text/template: {{.URL}} is the base URL
	// of the scenario's HTTP server, {{.TFTP}} the "tftp://127.0.0.1:port"
	// of its TFTP server, {{sha512 "text"}} the "sha512-<hex>" of a text,
	// {{dataurl "text"}} a base64 data: URL holding it.
	config string
	// remote are the files the HTTP server serves, by path; any other path
	// is 404.
	remote map[string][]byte
	// tftp, when not nil, are the files a TFTP server on 127.0.0.1 serves,
	// by file name (the URL path without its leading slash); any other
	// name is answered with error 1 (file not found). Names in
	// tftpSized are served with the transfer size announced (tsize).
	tftp      map[string][]byte
	tftpSized []string
	// requireHeader, when set, is a header name and value the HTTP server
	// wants on every request; without it, it answers 403.
	requireHeader [2]string
	// base are base configs (templates like config) by path under the
	// dir holding the three config dirs "sys", "local" and "runtime",
	// e.g. "sys/base.d/10-a.ign" or "runtime/base.platform.d/file/x.ign".
	base map[string]string
	// seed are files in the target before the stages run, in addition to
	// defaultSeed (which they override).
	seed map[string]seedFile

	// want are checked on the provisioned root when every stage succeeds.
	want []expect
	// commands are the host commands the files stage must have run
	// (through the stub), in order; "ROOT" in an argument stands for the
	// target root. Nil means none.
	commands [][]string
	// kargs is the kargs helper's argv (its argv[0] as the base name) the
	// kargs stage must have run it with, once; nil means it must not run.
	// No other stage may run any stubbed command.
	kargs []string

	// failStage, for a negative scenario, is the stage that must fail
	// (the later stages are not run, as in a boot); failMsg are
	// substrings of its CRITICAL line (and the lines after it, where the
	// cause goes on). want is checked too.
	failStage string
	failMsg   []string

	// scratch are the sizes in MiB of the scenario's scratch disks:
	// empty sparse images on loop devices, {{.D0}} … {{.D3}} in the
	// config (and $D0 … $D3 in setup).
	scratch []int
	// setup is a shell script (set -e) that prepares the scratch disks
	// before the stages run: old partitions, filesystems, files. The
	// shell function sync_parts DEV tells the kernel about DEV's table.
	setup string
	// disks are checked on the scratch disks after the stages, success
	// or not.
	disks []diskExpect
}

// expect is one check on the provisioned root (mounted read-only at root).
type expect interface {
	check(t *testing.T, root string)
}

// file expects a regular file with these contents, permission bits and
// owner.
type file struct {
	path     string
	contents string
	mode     fs.FileMode
	uid, gid int
}

// dir expects a directory with these permission bits and owner.
type dir struct {
	path     string
	mode     fs.FileMode
	uid, gid int
}

// symlink expects a symbolic link with this target.
type symlink struct{ path, target string }

// hardlink expects path to be the same inode as target.
type hardlink struct{ path, target string }

// absent expects nothing at path.
type absent struct{ path string }

// hasLines expects a regular file that holds these lines (among others).
type hasLines struct {
	path  string
	lines []string
}

func (e file) check(t *testing.T, root string) {
	t.Helper()
	p := filepath.Join(root, e.path)
	fi, err := os.Lstat(p)
	if err != nil {
		t.Errorf("file %s: %v", e.path, err)
		return
	}
	if !fi.Mode().IsRegular() {
		t.Errorf("file %s: is %v, want a regular file", e.path, fi.Mode().Type())
		return
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Errorf("file %s: %v", e.path, err)
	} else if string(raw) != e.contents {
		t.Errorf("file %s: contents %q, want %q", e.path, raw, e.contents)
	}
	checkMeta(t, "file "+e.path, fi, e.mode, e.uid, e.gid)
}

func (e dir) check(t *testing.T, root string) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(root, e.path))
	if err != nil {
		t.Errorf("dir %s: %v", e.path, err)
		return
	}
	if !fi.IsDir() {
		t.Errorf("dir %s: is %v, want a directory", e.path, fi.Mode().Type())
		return
	}
	checkMeta(t, "dir "+e.path, fi, e.mode, e.uid, e.gid)
}

func checkMeta(t *testing.T, what string, fi fs.FileInfo, mode fs.FileMode, uid, gid int) {
	t.Helper()
	if got := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky); got != mode {
		t.Errorf("%s: mode %v, want %v", what, got, mode)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s: owner %d:%d, want %d:%d", what, st.Uid, st.Gid, uid, gid)
	}
}

func (e symlink) check(t *testing.T, root string) {
	t.Helper()
	got, err := os.Readlink(filepath.Join(root, e.path))
	if err != nil {
		t.Errorf("symlink %s: %v", e.path, err)
	} else if got != e.target {
		t.Errorf("symlink %s: points to %q, want %q", e.path, got, e.target)
	}
}

func (e hardlink) check(t *testing.T, root string) {
	t.Helper()
	a, errA := os.Lstat(filepath.Join(root, e.path))
	b, errB := os.Lstat(filepath.Join(root, e.target))
	if errA != nil || errB != nil {
		t.Errorf("hard link %s → %s: %v %v", e.path, e.target, errA, errB)
		return
	}
	if !os.SameFile(a, b) {
		t.Errorf("hard link %s: not the same file as %s", e.path, e.target)
	}
}

func (e absent) check(t *testing.T, root string) {
	t.Helper()
	if fi, err := os.Lstat(filepath.Join(root, e.path)); err == nil {
		t.Errorf("%s: exists (%v), want nothing there", e.path, fi.Mode())
	} else if !os.IsNotExist(err) {
		t.Errorf("%s: %v", e.path, err)
	}
}

func (e hasLines) check(t *testing.T, root string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, e.path))
	if err != nil {
		t.Errorf("%s: %v", e.path, err)
		return
	}
	have := strings.Split(string(raw), "\n")
	for _, l := range e.lines {
		if !slices.Contains(have, l) {
			t.Errorf("%s: no line %q in\n%s", e.path, l, raw)
		}
	}
}

// tempName is how the product names its temp files: ".<name>.ignition-<x>".
var tempName = regexp.MustCompile(`^\..+\.ignition-[0-9a-z]+$`)

// noTempFiles fails t if any temp file is left anywhere under root.
func noTempFiles(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Errorf("walking the root: %v", err)
			return nil
		}
		if tempName.MatchString(d.Name()) {
			rel, _ := filepath.Rel(root, p)
			t.Errorf("temp file left behind: /%s", rel)
		}
		return nil
	})
}

func sha512Of(s string) string {
	sum := sha512.Sum512([]byte(s))
	return "sha512-" + hex.EncodeToString(sum[:])
}

func dataURL(s string) string {
	return "data:;base64," + base64.StdEncoding.EncodeToString([]byte(s))
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

var templateFuncs = template.FuncMap{"sha512": sha512Of, "dataurl": dataURL}

// servers are what a config template can refer to: {{.URL}}, {{.TFTP}},
// and the scratch disks' devices {{.D0}} … {{.D3}}.
type servers struct{ URL, TFTP, D0, D1, D2, D3 string }

// render fills in a config template.
func render(t *testing.T, name, text string, srv servers) []byte {
	t.Helper()
	tmpl, err := template.New(name).Funcs(templateFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, srv); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b.Bytes()
}

// writeFile writes a file, creating its parent dirs.
func writeFile(t *testing.T, path string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// provision runs sc: disk, seed, stages, then the checks.
func provision(t *testing.T, sc scenario) {
	needHarness(t)
	tmp := t.TempDir()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := sc.requireHeader; h[0] != "" && r.Header.Get(h[0]) != h[1] {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		body, ok := sc.remote[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	urls := servers{URL: srv.URL}
	if sc.tftp != nil {
		urls.TFTP = startTFTP(t, sc.tftp, sc.tftpSized)
	}
	scratch := newScratchDisks(t, sc.scratch, sc.setup)
	if len(scratch) > 4 {
		t.Fatal("at most 4 scratch disks")
	}
	for i, d := range scratch {
		*[]*string{&urls.D0, &urls.D1, &urls.D2, &urls.D3}[i] = d.loop
	}

	// Host side: config, config dirs, cache, state, stub log.
	configFile := filepath.Join(tmp, "user.ign")
	writeFile(t, configFile, render(t, "config", sc.config, urls), 0o644)
	sysDir := filepath.Join(tmp, "sys")
	for _, d := range []string{sysDir, filepath.Join(tmp, "local"), filepath.Join(tmp, "runtime")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, text := range sc.base {
		writeFile(t, filepath.Join(tmp, p), render(t, p, text, urls), 0o644)
	}
	cmdline := filepath.Join(tmp, "cmdline")
	writeFile(t, cmdline, []byte("BOOT_IMAGE=/vmlinuz root=LABEL=root\n"), 0o644)
	cache := filepath.Join(tmp, "run", "ignition.json")
	stateFile := filepath.Join(tmp, "run", "ignition", "state")
	neednet := filepath.Join(tmp, "run", "ignition", "neednet")
	// Each stage's stub log, so that what ran is known by stage.
	stubLog := func(stage string) string { return filepath.Join(tmp, "stub."+stage+".log") }

	// Target side: the disk mounted as /sysroot would be, seeded.
	disk := newTargetDisk(t)
	sysroot := filepath.Join(tmp, "sysroot")
	if err := os.Mkdir(sysroot, 0o755); err != nil {
		t.Fatal(err)
	}
	unmount := mountAt(t, disk.part, sysroot, "")
	seed := map[string]seedFile{}
	for p, f := range defaultSeed {
		seed[p] = f
	}
	for p, f := range sc.seed {
		seed[p] = f
	}
	for p, f := range seed {
		writeFile(t, filepath.Join(sysroot, p), []byte(f.contents), f.mode)
	}

	env := []string{"PATH=" + os.Getenv("PATH")}
	env = append(env,
		"IGNITION_CONFIG_FILE="+configFile,
		"IGNITION_SYSTEM_CONFIG_DIR="+sysDir,
		"IGNITION_SYSTEM_LOCAL_CONFIG_DIR="+filepath.Join(tmp, "local"),
		"IGNITION_SYSTEM_RUNTIME_CONFIG_DIR="+filepath.Join(tmp, "runtime"),
		"IGNITION_KERNEL_CMDLINE_PATH="+cmdline,
	)
	var runs []stageRun
	for _, stage := range stageOrder {
		cmd := exec.Command(harness.ignition, "-platform", "file", "-stage", stage, "-root", sysroot,
			"-config-cache", cache, "-state-file", stateFile, "-neednet", neednet,
			"-fetch-timeout", "30s", "-log-to-stdout")
		cmd.Env = append(slices.Clone(env), "IGNITION_STUB_LOG="+stubLog(stage))
		cmd.Dir = tmp
		out, err := cmd.CombinedOutput()
		r := stageRun{stage: stage, code: cmd.ProcessState.ExitCode(), out: string(out)}
		if err != nil && r.code <= 0 {
			t.Fatalf("running stage %s: %v", stage, err)
		}
		runs = append(runs, r)
		if r.code != 0 {
			break
		}
	}
	logs := func() string {
		var b strings.Builder
		for _, r := range runs {
			fmt.Fprintf(&b, "--- stage %s (exit %d)\n%s", r.stage, r.code, r.out)
		}
		return b.String()
	}
	checkStages(t, sc, runs, logs)
	if sc.failStage == "fetch-offline" || sc.failStage == "fetch" {
		if _, err := os.Stat(cache); !os.IsNotExist(err) {
			t.Errorf("the config cache %s was written by a failed fetch (%v)", cache, err)
		}
	}
	checkCommands(t, sc, stubLog, sysroot)
	for _, e := range sc.disks {
		e.check(t, scratch)
	}

	// Off the disk: unmount, mount again read-only elsewhere, check.
	unmount()
	ro := filepath.Join(tmp, "check")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	mountAt(t, disk.part, ro, "ro")
	for _, e := range sc.want {
		e.check(t, ro)
	}
	noTempFiles(t, ro)
	if t.Failed() {
		t.Logf("stage logs:\n%s", logs())
	}
}

// crit matches a stage's final CRITICAL line.
var crit = regexp.MustCompile(`(?m)^.*CRITICAL.*Ignition failed: .*$`)

func checkStages(t *testing.T, sc scenario, runs []stageRun, logs func() string) {
	t.Helper()
	for _, r := range runs {
		failing := r.stage == sc.failStage
		switch {
		case failing && r.code != 1:
			t.Errorf("stage %s: exit %d, want 1", r.stage, r.code)
		case !failing && r.code != 0:
			t.Errorf("stage %s: exit %d, want 0", r.stage, r.code)
		}
		lines := crit.FindAllString(r.out, -1)
		if !failing {
			if len(lines) > 0 || strings.Contains(r.out, "CRITICAL") {
				t.Errorf("stage %s: CRITICAL in the output of a stage that should succeed", r.stage)
			}
			if !strings.Contains(r.out, "Ignition finished successfully") {
				t.Errorf("stage %s: no \"Ignition finished successfully\"", r.stage)
			}
			continue
		}
		if len(lines) != 1 {
			t.Errorf("stage %s: %d \"Ignition failed\" lines, want 1", r.stage, len(lines))
			continue
		}
		if prefix := "Ignition failed: " + r.stage + ": "; !strings.Contains(lines[0], prefix) {
			t.Errorf("stage %s: CRITICAL line %q does not say %q", r.stage, lines[0], prefix)
		}
		// The cause may go on over further lines (a config's validation
		// report): failMsg may be anywhere from the line to the end.
		tail := r.out[strings.Index(r.out, lines[0]):]
		t.Logf("stage %s failed: %s", r.stage, tail)
		for _, m := range sc.failMsg {
			if !strings.Contains(tail, m) {
				t.Errorf("stage %s: CRITICAL line and what follows, %q, do not contain %q", r.stage, tail, m)
			}
		}
	}
	last := runs[len(runs)-1].stage
	want := stageOrder[len(stageOrder)-1]
	if sc.failStage != "" {
		want = sc.failStage
	}
	if last != want {
		t.Errorf("the stages stopped after %s, want after %s", last, want)
	}
	if t.Failed() {
		t.Logf("stage logs:\n%s", logs())
	}
}

// checkCommands checks the stubbed commands each stage ran: sc.commands
// in the files stage, sc.kargs in the kargs stage, none in the others.
func checkCommands(t *testing.T, sc scenario, stubLog func(stage string) string, sysroot string) {
	t.Helper()
	for _, stage := range stageOrder {
		got := readStubLog(t, stubLog(stage))
		var want [][]string
		switch stage {
		case "files":
			for _, argv := range sc.commands {
				w := slices.Clone(argv)
				for i, a := range w {
					if a == "ROOT" {
						w[i] = sysroot
					}
				}
				want = append(want, w)
			}
		case "kargs":
			if sc.kargs != nil {
				want = [][]string{sc.kargs}
			}
		}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("stage %s: host commands run:\n%q\nwant:\n%q", stage, got, want)
		}
	}
}

// readStubLog reads the argv the stub recorded in log, one a line; no
// log is no commands.
func readStubLog(t *testing.T, log string) [][]string {
	t.Helper()
	var got [][]string
	raw, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if line == "" {
			continue
		}
		var argv []string
		if err := json.Unmarshal([]byte(line), &argv); err != nil {
			t.Fatalf("stub log line %q: %v", line, err)
		}
		got = append(got, argv)
	}
	return got
}
