package vm

// The disks stage proven in QEMU: our ignition binary runs every stage in
// a guest, as the initramfs runs it on a first boot, against virtio disks,
// with the guest kernel's md, dm-crypt, vfat and TPM, which the host's
// lacks. Each scenario checks its verdict twice: in the guest, where the
// devices are live (mdadm --detail, cryptsetup status, mounts), and on the
// host afterwards, from the disk images alone (blkid, mdadm --examine,
// cryptsetup luksDump, debugfs), so that a guest check that passes for the
// wrong reason is caught from outside.
//
// Every scenario's config gets a root: /dev/vda is partitioned with a
// partition labelled "root" holding an ext4 filesystem labelled "root",
// which the guest script mounts at /sysroot between the disks and mount
// stages, as sysroot.mount does on a real boot.
//
// Cost: a scenario is one boot (about 3 s) plus its work under TCG, where
// every process start and key derivation is slow: 5-15 s for most,
// about 30 s for those that run Clevis's shell scripts or argon2. LUKS
// volumes are formatted with pbkdf2 (fastPBKDF) except one that proves
// luksFormat's argon2id default in the guest's 1 GiB.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if ignitionBuild.dir != "" {
		os.RemoveAll(ignitionBuild.dir)
	}
	os.Exit(code)
}

// ignitionBuild is the ignition binary, built once per test binary.
var ignitionBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// ignitionBinary builds cmd/ignition as a static binary (CGO_ENABLED=0),
// as an initramfs carries it, and returns its path.
func ignitionBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("vm: skipped with -short (each run boots a QEMU machine under TCG)")
	}
	ignitionBuild.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "vmtest-ignition-")
		if err != nil {
			ignitionBuild.err = err
			return
		}
		ignitionBuild.dir = dir
		out := filepath.Join(dir, "ignition")
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/ignition")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			ignitionBuild.err = fmt.Errorf("go build ./cmd/ignition: %v\n%s", err, msg)
			return
		}
		ignitionBuild.path = out
	})
	if ignitionBuild.err != nil {
		t.Fatal(ignitionBuild.err)
	}
	return ignitionBuild.path
}

// obj is a JSON object of the config.
type obj = map[string]any

// storage is a config's storage section. The root disk and filesystem
// are added by provision.
type storage struct {
	Disks       []obj
	Raid        []obj
	Luks        []obj
	Filesystems []obj
	Files       []obj
}

// dataURL is a data: URL of s, as a config's source.
func dataURL(s string) string {
	return "data:;base64," + base64.StdEncoding.EncodeToString([]byte(s))
}

// The root disk: /dev/vda, with the root partition first.
const (
	rootDiskMiB = 96
	rootPartMiB = 48
)

// rootSector is where the root partition starts: sgdisk's default
// alignment, the first MiB.
const rootSector = 2048

// provision is one first boot of a test machine.
type provision struct {
	storage storage
	// version is the config's spec version; "3.5.0" by default.
	version string
	// rootParts are more partitions on the root disk, after the root.
	rootParts []obj
	// rootImage is an existing image for the root disk (a second boot);
	// a blank one by default.
	rootImage string
	// disks are /dev/vdb onwards (vda is the root disk).
	disks []Disk
	// machine is merged into the defaults: its Tools, Extra, Modules and
	// Files are added, its Net, TPM, Memory and Timeout used.
	machine Machine
	// before runs in the guest before the first stage.
	before string
	// failStage is the stage that must fail; the later ones do not run,
	// and the root is not mounted.
	failStage string
	// check runs in the guest after the stages, with the target root
	// mounted at /sysroot (unless failStage is set) and every stage's
	// output in /tmp/ignition.log.
	check string
}

// guestBase is what every provisioning guest gets: the disks stage's
// tools and the kernel modules of the filesystems it makes.
var guestBase = Machine{
	Tools: []string{"sgdisk", "partx", "blkid", "wipefs", "mkfs.ext4", "mkfs.xfs", "mkfs.vfat", "mkswap",
		"mount", "umount"},
	Extra:   []string{"/etc/mke2fs.conf"},
	Modules: []string{"ext4"},
}

// merge combines what guests need: their tools, extra files and modules.
func merge(ms ...Machine) Machine {
	var out Machine
	for _, m := range ms {
		out.Tools = append(out.Tools, m.Tools...)
		out.Extra = append(out.Extra, m.Extra...)
		out.Modules = append(out.Modules, m.Modules...)
	}
	return out
}

// config is the Ignition config the guest is given.
func (p *provision) config() []byte {
	version := p.version
	if version == "" {
		version = "3.5.0"
	}
	root := obj{"label": "root", "number": 1, "sizeMiB": rootPartMiB}
	st := obj{
		"disks": append([]obj{{"device": "/dev/vda", "wipeTable": true,
			"partitions": append([]obj{root}, p.rootParts...)}}, p.storage.Disks...),
		"filesystems": append([]obj{{"device": "/dev/disk/by-partlabel/root", "format": "ext4",
			"label": "root", "wipeFilesystem": true}}, p.storage.Filesystems...),
	}
	for k, v := range map[string][]obj{"raid": p.storage.Raid, "luks": p.storage.Luks, "files": p.storage.Files} {
		if len(v) > 0 {
			st[k] = v
		}
	}
	raw, err := json.MarshalIndent(obj{"ignition": obj{"version": version}, "storage": st}, "", "  ")
	if err != nil {
		panic(err) // maps of strings, numbers and bools
	}
	return raw
}

// machineFor is the test machine for p.
func (p *provision) machineFor(t *testing.T) *Machine {
	bin := ignitionBinary(t)
	m := p.machine
	root := Disk{Name: "root", SizeMiB: rootDiskMiB}
	if p.rootImage != "" {
		root = Disk{Name: "root", Image: p.rootImage}
	}
	m.Disks = append([]Disk{root}, p.disks...)
	m.Tools = append(append([]string{}, guestBase.Tools...), p.machine.Tools...)
	m.Extra = append(append([]string{}, guestBase.Extra...), p.machine.Extra...)
	m.Modules = append(append([]string{}, guestBase.Modules...), p.machine.Modules...)
	m.Files = map[string]File{
		"/usr/bin/ignition":  {Src: bin, Mode: 0o755},
		"/vmtest/config.ign": {Data: p.config()},
	}
	for k, v := range p.machine.Files {
		m.Files[k] = v
	}
	m.Script = p.script()
	return &m
}

// script is the guest's test body: the stages in boot order, as the
// initramfs units run them, each one's output kept in /tmp/ignition.log.
func (p *provision) script() string {
	var s strings.Builder
	s.WriteString(`set -o pipefail
mkdir -p /vmtest/ign/system /vmtest/ign/local /vmtest/ign/runtime /sysroot
echo "console=ttyS0" >/vmtest/ign/cmdline
export IGNITION_CONFIG_FILE=/vmtest/config.ign
export IGNITION_SYSTEM_CONFIG_DIR=/vmtest/ign/system
export IGNITION_SYSTEM_LOCAL_CONFIG_DIR=/vmtest/ign/local
export IGNITION_SYSTEM_RUNTIME_CONFIG_DIR=/vmtest/ign/runtime
export IGNITION_KERNEL_CMDLINE_PATH=/vmtest/ign/cmdline
stage() {
	echo "=== ignition -stage $1"
	ignition -platform file -stage "$1" -root /sysroot -log-to-stdout \
		-config-cache /run/ignition.json -state-file /run/ignition/state \
		-neednet /run/ignition/neednet 2>&1 | tee -a /tmp/ignition.log
}
`)
	if p.before != "" {
		s.WriteString(p.before + "\n")
	}
	for _, st := range []string{"fetch-offline", "fetch", "kargs", "disks", "mount", "files", "umount"} {
		if st == p.failStage {
			fmt.Fprintf(&s, "if stage %s; then echo 'VMTEST: the %s stage succeeded; it must fail'; exit 1; fi\n", st, st)
			break
		}
		fmt.Fprintf(&s, "stage %s\n", st)
		if st == "disks" {
			// sysroot.mount: the root filesystem by its label.
			s.WriteString(`mount -t ext4 "$(blkid -c /dev/null -L root)" /sysroot` + "\n")
		}
	}
	s.WriteString(p.check + "\n")
	return s.String()
}

// run boots the machine and requires the script to pass.
func (p *provision) run(t *testing.T) Result {
	t.Helper()
	m := p.machineFor(t)
	start := time.Now()
	res := m.Run(t)
	t.Logf("scenario ran in %v (QEMU %v)", time.Since(start).Round(100*time.Millisecond), res.Wall.Round(100*time.Millisecond))
	if !res.Passed {
		t.Fatalf("vm: script exited %d; the script's output, without kernel messages:\n%s", res.ExitCode, scriptOutput(res.Serial, 150))
	}
	return res
}

var kernelLineRE = regexp.MustCompile(`^\[ *\d+\.\d+\] `)

// scriptOutput is the last n lines of the console after the script
// started, without the kernel's messages: the stages' logs and the
// script's trace.
func scriptOutput(serial string, n int) string {
	if _, after, ok := strings.Cut(serial, markStart); ok {
		serial = after
	}
	var lines []string
	for line := range strings.Lines(serial) {
		if !kernelLineRE.MatchString(line) {
			lines = append(lines, line)
		}
	}
	return tail(strings.Join(lines, ""), n)
}

// hostTool finds a host command that a check from outside needs, and
// skips the test without it.
func hostTool(t *testing.T, name string) string {
	t.Helper()
	p, err := lookPath(name)
	if err != nil {
		t.Skipf("the check from the host needs %s: %v", name, err)
	}
	return p
}

// hostOutput runs a host command for a check from outside and returns
// its standard output; the test fails if it does not succeed.
func hostOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(hostTool(t, name), args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out)
}

// partition returns the byte offset and size of partition n of a disk
// image, read from its partition table by partx.
func partition(t *testing.T, img string, n int) (offset, size int64) {
	t.Helper()
	out := strings.Fields(hostOutput(t, "partx", "-g", "-o", "START,SECTORS", "-n", strconv.Itoa(n), img))
	if len(out) != 2 {
		t.Fatalf("partx %s: no partition %d: %q", img, n, out)
	}
	start, err1 := strconv.ParseInt(out[0], 10, 64)
	sectors, err2 := strconv.ParseInt(out[1], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("partx %s: partition %d: %q", img, n, out)
	}
	return start * 512, sectors * 512
}

// probe returns what blkid finds at offset in img; nil if nothing.
func probe(t *testing.T, img string, offset int64) map[string]string {
	t.Helper()
	cmd := exec.Command(hostTool(t, "blkid"), "-c", "/dev/null", "-p", "-o", "export", "-O", strconv.FormatInt(offset, 10), img)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
		return nil // no signature
	}
	if err != nil {
		t.Fatalf("blkid -p %s at %d: %v", img, offset, err)
	}
	tags := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			tags[k] = v
		}
	}
	return tags
}

// ext4File reads a file from the ext4 filesystem at offset in img, with
// debugfs: what reached the disk, not what a mount caches.
func ext4File(t *testing.T, img string, offset int64, path string) string {
	t.Helper()
	// debugfs prints its errors on stderr and exits 0 regardless; an
	// empty answer for a file that must not be empty is caught by the
	// callers' comparisons.
	return hostOutput(t, "debugfs", "-R", "cat "+path, fmt.Sprintf("%s?offset=%d", img, offset))
}

// rootFile reads a file from the target root (partition 1 of the root
// disk).
func rootFile(t *testing.T, res Result, path string) string {
	t.Helper()
	off, _ := partition(t, res.Disks[0], 1)
	return ext4File(t, res.Disks[0], off, path)
}

// checkRoot checks from the host that the root disk holds the root
// partition and filesystem the config asked for.
func checkRoot(t *testing.T, res Result) {
	t.Helper()
	off, _ := partition(t, res.Disks[0], 1)
	if off != rootSector*512 {
		t.Errorf("root partition at byte %d, want %d", off, rootSector*512)
	}
	if tags := probe(t, res.Disks[0], off); tags["TYPE"] != "ext4" || tags["LABEL"] != "root" {
		t.Errorf("root partition holds %v, want ext4 labelled root", tags)
	}
}

// zeroes says whether the first n bytes of img are all zero.
func zeroes(t *testing.T, img string, n int) bool {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	return bytes.Count(buf, []byte{0}) == n
}
