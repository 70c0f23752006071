package blackbox

// Scratch disks for the disks-stage scenarios, and the checks made on
// them from outside with the host's own tools (sgdisk, blkid, sysfs,
// mount), never with our code.

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// scratchDisk is one scratch disk: its image and loop device, and the
// checksum of its contents before the stages ran.
type scratchDisk struct {
	img, loop string
	before    [sha256.Size]byte
}

// setupPrelude is run before a scenario's setup script.
const setupPrelude = `set -e
sync_parts() { partx -a "$1" 2>/dev/null || true; partx -u "$1"; }
`

// newScratchDisks attaches empty sparse images of the sizes given (MiB)
// to loop devices, runs setup on them, and records their checksums.
func newScratchDisks(t *testing.T, sizes []int, setup string) []*scratchDisk {
	t.Helper()
	var out []*scratchDisk
	env := os.Environ()
	for i, mib := range sizes {
		img := filepath.Join(t.TempDir(), fmt.Sprintf("scratch%d.img", i))
		if err := os.WriteFile(img, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, int64(mib)<<20); err != nil {
			t.Fatal(err)
		}
		loop := run(t, "losetup", "--find", "--show", img)
		t.Cleanup(func() {
			// Partitions first (BLKPG), or the detach leaves them behind.
			exec.Command("partx", "-d", loop).Run()
			if out, err := exec.Command("losetup", "--detach", loop).CombinedOutput(); err != nil {
				t.Errorf("losetup --detach %s: %v\n%s", loop, err, out)
			}
		})
		out = append(out, &scratchDisk{img: img, loop: loop})
		env = append(env, fmt.Sprintf("D%d=%s", i, loop))
	}
	if setup != "" {
		cmd := exec.Command("sh", "-c", setupPrelude+setup)
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("setup: %v\n%s", err, b)
		}
	}
	for _, d := range out {
		d.before = checksum(t, d.loop)
	}
	return out
}

func checksum(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// diskExpect is one check on the scratch disks after the stages.
type diskExpect interface {
	check(t *testing.T, disks []*scratchDisk)
}

// devPath turns "D0" or "D1p2" into the scratch disk's device path.
func devPath(t *testing.T, disks []*scratchDisk, name string) string {
	t.Helper()
	m := regexp.MustCompile(`^D(\d)(p\d+)?$`).FindStringSubmatch(name)
	if m == nil {
		t.Fatalf("bad scratch device name %q", name)
	}
	i, _ := strconv.Atoi(m[1])
	if i >= len(disks) {
		t.Fatalf("%s: the scenario has %d scratch disks", name, len(disks))
	}
	return disks[i].loop + m[2]
}

// untouched expects a scratch disk to hold exactly what it held before.
type untouched struct{ disk int }

func (e untouched) check(t *testing.T, disks []*scratchDisk) {
	t.Helper()
	if checksum(t, disks[e.disk].loop) != disks[e.disk].before {
		t.Errorf("scratch disk D%d was changed; it should be untouched", e.disk)
	}
}

// part expects partition num of a scratch disk, as sgdisk reads it from
// the disk, and as the kernel sees it (a device node of the same size).
// Zero fields are not checked, except label, which is always.
type part struct {
	disk, num  int
	label      string
	start, end int64 // sectors of 512 bytes
	typeGUID   string
	guid       string
}

// sgdiskInfo runs sgdisk --info and returns its fields, or nil when the
// partition does not exist.
func sgdiskInfo(t *testing.T, dev string, num int) map[string]string {
	t.Helper()
	out, err := exec.Command("sgdisk", "--info="+strconv.Itoa(num), dev).CombinedOutput()
	if err != nil {
		t.Fatalf("sgdisk --info=%d %s: %v\n%s", num, dev, err, out)
	}
	if strings.Contains(string(out), "does not exist") {
		return nil
	}
	info := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			info[k] = v
		}
	}
	return info
}

func (e part) check(t *testing.T, disks []*scratchDisk) {
	t.Helper()
	dev := disks[e.disk].loop
	info := sgdiskInfo(t, dev, e.num)
	if info == nil {
		t.Errorf("D%d: no partition %d", e.disk, e.num)
		return
	}
	first, _ := strconv.ParseInt(strings.Fields(info["First sector"])[0], 10, 64)
	last, _ := strconv.ParseInt(strings.Fields(info["Last sector"])[0], 10, 64)
	name := strings.Trim(info["Partition name"], "'")
	code := strings.Fields(info["Partition GUID code"])[0]
	guid := info["Partition unique GUID"]
	what := fmt.Sprintf("D%dp%d", e.disk, e.num)
	if name != e.label {
		t.Errorf("%s: label %q, want %q", what, name, e.label)
	}
	if e.start != 0 && first != e.start {
		t.Errorf("%s: first sector %d, want %d", what, first, e.start)
	}
	if e.end != 0 && last != e.end {
		t.Errorf("%s: last sector %d, want %d", what, last, e.end)
	}
	if e.typeGUID != "" && !strings.EqualFold(code, e.typeGUID) {
		t.Errorf("%s: type GUID %s, want %s", what, code, e.typeGUID)
	}
	if e.guid != "" && !strings.EqualFold(guid, e.guid) {
		t.Errorf("%s: GUID %s, want %s", what, guid, e.guid)
	}
	// The kernel's view: the stage must have told it.
	node := fmt.Sprintf("%sp%d", dev, e.num)
	fi, err := os.Stat(node)
	if err != nil || fi.Mode()&fs.ModeDevice == 0 {
		t.Errorf("%s: no device node %s (%v): the kernel was not told", what, node, err)
		return
	}
	raw, err := os.ReadFile(filepath.Join("/sys/class/block", filepath.Base(node), "size"))
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if size, _ := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64); size != last-first+1 {
		t.Errorf("%s: the kernel sees %d sectors, the table says %d", what, size, last-first+1)
	}
}

// noPart expects no partition num on a scratch disk, in the table or in
// the kernel's view.
type noPart struct{ disk, num int }

func (e noPart) check(t *testing.T, disks []*scratchDisk) {
	t.Helper()
	dev := disks[e.disk].loop
	if info := sgdiskInfo(t, dev, e.num); info != nil {
		t.Errorf("D%d: partition %d exists (%s…%s); it should not", e.disk, e.num, info["First sector"], info["Last sector"])
	}
	if _, err := os.Stat(fmt.Sprintf("%sp%d", dev, e.num)); err == nil {
		t.Errorf("D%d: the kernel still has partition %d", e.disk, e.num)
	}
}

// blkidOf probes dev without a cache: TYPE, LABEL, UUID…; empty when
// there is nothing.
func blkidOf(t *testing.T, dev string) map[string]string {
	t.Helper()
	out, err := exec.Command("blkid", "-p", "-o", "export", dev).Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
		return map[string]string{}
	}
	if err != nil {
		t.Fatalf("blkid -p %s: %v", dev, err)
	}
	tags := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			tags[k] = v
		}
	}
	return tags
}

// fsOn expects a filesystem of a type (and label and UUID, when given)
// on a scratch device; typ "" expects no signature at all.
type fsOn struct {
	dev, typ, label, uuid string
}

func (e fsOn) check(t *testing.T, disks []*scratchDisk) {
	t.Helper()
	tags := blkidOf(t, devPath(t, disks, e.dev))
	if tags["TYPE"] != e.typ {
		t.Errorf("%s: blkid TYPE %q, want %q (%v)", e.dev, tags["TYPE"], e.typ, tags)
	}
	if e.label != "" && tags["LABEL"] != e.label {
		t.Errorf("%s: blkid LABEL %q, want %q", e.dev, tags["LABEL"], e.label)
	}
	if e.uuid != "" && !strings.EqualFold(tags["UUID"], e.uuid) {
		t.Errorf("%s: blkid UUID %q, want %q", e.dev, tags["UUID"], e.uuid)
	}
}

// filesOn mounts a scratch device read-only and checks files on it.
type filesOn struct {
	dev  string
	want []expect
}

func (e filesOn) check(t *testing.T, disks []*scratchDisk) {
	t.Helper()
	dir := t.TempDir()
	unmount := mountAt(t, devPath(t, disks, e.dev), dir, "ro")
	defer unmount()
	for _, w := range e.want {
		w.check(t, dir)
	}
}

// dumpe2fsHas expects `dumpe2fs -h` of an ext4 device to have a line.
type dumpe2fsHas struct{ dev, line string }

func (e dumpe2fsHas) check(t *testing.T, disks []*scratchDisk) {
	t.Helper()
	out := run(t, "dumpe2fs", "-h", devPath(t, disks, e.dev))
	for _, l := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(l), " ") == e.line {
			return
		}
	}
	t.Errorf("%s: dumpe2fs -h has no line %q", e.dev, e.line)
}
