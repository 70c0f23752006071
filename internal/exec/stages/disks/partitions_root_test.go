package disks

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/distro"
	"github.com/ignition-go/ignition/internal/exec/command"
	"github.com/ignition-go/ignition/internal/log"
)

// partsExec runs every command for real and records it.
type partsExec struct {
	mu    sync.Mutex
	calls []string
}

func (r *partsExec) Run(ctx context.Context, argv []string) error {
	r.record(argv)
	return command.Exec{}.Run(ctx, argv)
}

func (r *partsExec) Output(ctx context.Context, argv []string) ([]byte, error) {
	r.record(argv)
	return command.Exec{}.Output(ctx, argv)
}

func (r *partsExec) record(argv []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, strings.Join(argv, " "))
}

// wrote says whether sgdisk ran for real (not --pretend).
func (r *partsExec) wrote() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.calls, func(c string) bool {
		return strings.HasPrefix(c, distro.SgdiskCmd()+" ") && !strings.HasPrefix(c, distro.SgdiskCmd()+" --pretend")
	})
}

// partsRootNeeds skips unless the test can use loop devices and the
// partitioning tools.
func partsRootNeeds(t *testing.T) {
	t.Helper()
	gptNeedRoot(t)
	gptNeed(t, "sgdisk", "partx", "losetup", "blockdev")
}

// partsRun runs the disks stage (Run, as the engine does) on dev.
func partsRun(t *testing.T, dev string, wipeTable bool, parts ...types.Partition) (*partsExec, error) {
	t.Helper()
	r := &partsExec{}
	var buf bytes.Buffer
	cfg := types.Config{}
	cfg.Storage.Disks = []types.Disk{{Device: dev, WipeTable: &wipeTable, Partitions: parts}}
	_, err := Run(context.Background(), cfg, Env{Commands: r, Log: log.NewWithSink(log.NewWriterSink(&buf)), DeviceTimeout: 10 * time.Second})
	t.Logf("log:\n%s", buf.String())
	return r, err
}

// partsKernelSize is the size of a partition node in bytes, as blockdev
// (the kernel) says.
func partsKernelSize(t *testing.T, node string) int64 {
	t.Helper()
	out, err := exec.Command("blockdev", "--getsize64", node).Output()
	if err != nil {
		t.Fatalf("blockdev --getsize64 %s: %v", node, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// partsTable reads dev's table, failing the test on error.
func partsTable(t *testing.T, dev string) *gptTable {
	t.Helper()
	tb, err := readGPT(dev)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// TestPartitionsOnLoop runs one disk through create, reuse, resize,
// delete, replace, a refused mismatch and wipeTable, with the real
// kernel watching.
func TestPartitionsOnLoop(t *testing.T) {
	partsRootNeeds(t)
	img := gptImage(t, 64)
	dev := gptLoop(t, img)
	p1, p2, p3 := partitionNode(dev, 1), partitionNode(dev, 2), partitionNode(dev, 3)
	yes, no := partsRef(true), partsRef(false)
	mustRun := func(wipeTable bool, parts ...types.Partition) *partsExec {
		t.Helper()
		r, err := partsRun(t, dev, wipeTable, parts...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	checkNode := func(node string, size int64) {
		t.Helper()
		if err := statBlockDevice(node); err != nil {
			t.Fatal(err)
		}
		if got := partsKernelSize(t, node); got != size {
			t.Errorf("%s is %d bytes, want %d", node, got, size)
		}
	}
	gone := func(node string) {
		t.Helper()
		if _, err := os.Stat(node); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", node, err)
		}
	}

	// Create.
	mustRun(false,
		types.Partition{Number: 1, Label: partsRef("boot"), SizeMiB: partsRef(8), TypeGUID: partsRef(efiType)},
		types.Partition{Number: 2, Label: partsRef("root"), SizeMiB: partsRef(20)},
	)
	tb := partsTable(t, dev)
	if got, want := partsLayout(tb), []string{"1 2048-18431 boot", "2 18432-59391 root"}; !slices.Equal(got, want) {
		t.Fatalf("table %q, want %q", got, want)
	}
	checkNode(p1, 8<<20)
	checkNode(p2, 20<<20)
	rootGUID := tb.entries[1].guid
	// Data in root must survive reuse and resize.
	data := make([]byte, 64<<10)
	rand.Read(data)
	if err := os.WriteFile(p2, data, 0); err != nil {
		t.Fatal(err)
	}
	dataIntact := func() {
		t.Helper()
		f, err := os.Open(p2)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got := make([]byte, len(data))
		if _, err := f.ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Error("the data in partition 2 changed")
		}
	}

	// Reuse: nothing written, the disk byte-identical.
	before := partsHash(t, img)
	r := mustRun(false, types.Partition{Number: 1, Label: partsRef("boot")}, types.Partition{Number: 2, Label: partsRef("root"), StartMiB: partsRef(9)})
	if r.wrote() {
		t.Errorf("reuse wrote the table: %q", r.calls)
	}
	if partsHash(t, img) != before {
		t.Error("reuse changed the disk")
	}
	dataIntact()

	// Resize: same start, same GUID, the kernel sees the new size.
	mustRun(false, types.Partition{Number: 2, SizeMiB: partsRef(40), Resize: yes})
	tb = partsTable(t, dev)
	if e, _ := tb.entry(2); e.start != 18432 || e.sectors() != 40<<11 || e.guid != rootGUID || e.name != "root" {
		t.Errorf("after the resize: %+v", e)
	}
	checkNode(p2, 40<<20)
	dataIntact()

	// Delete.
	mustRun(false, types.Partition{Number: 1, ShouldExist: no, WipePartitionEntry: yes})
	if got, want := partsLayout(partsTable(t, dev)), []string{"2 18432-100351 root"}; !slices.Equal(got, want) {
		t.Errorf("table %q, want %q", got, want)
	}
	gone(p1)

	// A mismatch without wipePartitionEntry: refused, nothing touched.
	before = partsHash(t, img)
	_, err := partsRun(t, dev, false, types.Partition{Number: 2, Label: partsRef("other")})
	want := "storage.disks.0 (" + dev + `): partition 2: label is "root" on the disk, the config wants "other"`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v\nwant %s…", err, want)
	}
	if partsHash(t, img) != before {
		t.Error("the refused plan changed the disk")
	}

	// Replace: deleted and created where sgdisk puts it now (the whole
	// disk is free once 2 is gone: at 1 MiB), with a new GUID; and a
	// number 0 partition after it.
	mustRun(false,
		types.Partition{Number: 2, Label: partsRef("data"), SizeMiB: partsRef(10), WipePartitionEntry: yes},
		types.Partition{Label: partsRef("var"), SizeMiB: partsRef(5)},
	)
	tb = partsTable(t, dev)
	if got, want := partsLayout(tb), []string{"1 22528-32767 var", "2 2048-22527 data"}; !slices.Equal(got, want) {
		t.Errorf("table %q, want %q", got, want)
	}
	if e, _ := tb.entry(2); e.guid == rootGUID {
		t.Error("the replaced partition kept its GUID")
	}
	checkNode(p2, 10<<20)
	checkNode(p1, 5<<20)

	// wipeTable: only what the config says.
	mustRun(true, types.Partition{Number: 3, Label: partsRef("fresh"), SizeMiB: partsRef(4)})
	if got, want := partsLayout(partsTable(t, dev)), []string{"3 2048-10239 fresh"}; !slices.Equal(got, want) {
		t.Errorf("table %q, want %q", got, want)
	}
	gone(p1)
	gone(p2)
	checkNode(p3, 4<<20)

	// wipeTable without partitions: no table, no partitions.
	mustRun(true)
	if tb := partsTable(t, dev); tb.found {
		t.Errorf("a table is left: %+v", tb)
	}
	gone(p3)
}

// TestPartitionsTellKernelExisting: partitions on the disk that the
// kernel does not know (this kernel reads no GPT itself) are added even
// when the table is reused as it is.
func TestPartitionsTellKernelExisting(t *testing.T) {
	partsRootNeeds(t)
	img := gptImage(t, 32, "-n", "1:0:+4M", "-c", "1:one", "-n", "2:0:+8M")
	dev := gptLoop(t, img)
	r, err := partsRun(t, dev, false, types.Partition{Number: 1, Label: partsRef("one")})
	if err != nil {
		t.Fatal(err)
	}
	if r.wrote() {
		t.Errorf("wrote the table: %q", r.calls)
	}
	for n, size := range map[int]int64{1: 4 << 20, 2: 8 << 20} {
		if got := partsKernelSize(t, partitionNode(dev, n)); got != size {
			t.Errorf("partition %d is %d bytes, want %d", n, got, size)
		}
	}
}

// TestPartitions4K partitions a disk with 4096-byte sectors: MiB become
// 256 sectors, and the kernel (in 512-byte units) sees the same bytes.
func TestPartitions4K(t *testing.T) {
	partsRootNeeds(t)
	img := gptImage(t, 64)
	dev := gptLoop(t, img, "--sector-size", "4096")
	if _, err := partsRun(t, dev, false,
		types.Partition{Number: 1, StartMiB: partsRef(2), SizeMiB: partsRef(3), Label: partsRef("a")},
		types.Partition{Number: 2, Label: partsRef("b")},
	); err != nil {
		t.Fatal(err)
	}
	tb := partsTable(t, dev)
	if tb.sectorSize != 4096 {
		t.Fatalf("sector size %d", tb.sectorSize)
	}
	// The reference reader agrees with the table writeGPT made.
	if out, err := exec.Command("sgdisk", "--verify", dev).CombinedOutput(); err != nil || !strings.Contains(string(out), "No problems found") {
		t.Errorf("sgdisk --verify: %v\n%s", err, out)
	}
	if tb.firstUsable != 6 {
		t.Errorf("first usable sector %d, want 6 (LBA 2-5 hold the 16 KiB array)", tb.firstUsable)
	}
	if got, want := partsLayout(tb), []string{"1 512-1279 a", "2 1280-" + strconv.FormatUint(tb.lastUsable, 10) + " b"}; !slices.Equal(got, want) {
		t.Errorf("table %q, want %q", got, want)
	}
	if got := partsKernelSize(t, partitionNode(dev, 1)); got != 3<<20 {
		t.Errorf("partition 1 is %d bytes", got)
	}
	if got, want := partsKernelSize(t, partitionNode(dev, 2)), int64(tb.lastUsable-1280+1)*4096; got != want {
		t.Errorf("partition 2 is %d bytes, want %d", got, want)
	}
}

// TestPartitionsPlanAllFirst: a config whose second disk cannot be
// partitioned as asked fails before the first disk is written.
func TestPartitionsPlanAllFirst(t *testing.T) {
	partsRootNeeds(t)
	img1, img2 := gptImage(t, 16), gptImage(t, 16, "-n", "1:0:+4M", "-c", "1:keep")
	dev1, dev2 := gptLoop(t, img1), gptLoop(t, img2)
	before1, before2 := partsHash(t, img1), partsHash(t, img2)
	cfg := types.Config{}
	cfg.Storage.Disks = []types.Disk{
		{Device: dev1, Partitions: []types.Partition{{Number: 1, SizeMiB: partsRef(4)}}},
		{Device: dev2, Partitions: []types.Partition{{Number: 1, Label: partsRef("other")}}},
	}
	r := &partsExec{}
	_, err := Run(context.Background(), cfg, Env{Commands: r, Log: log.Discard(), DeviceTimeout: 10 * time.Second})
	want := "storage.disks.1 (" + dev2 + `): partition 1: label is "keep" on the disk, the config wants "other"`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v\nwant %s…", err, want)
	}
	if r.wrote() || partsHash(t, img1) != before1 || partsHash(t, img2) != before2 {
		t.Errorf("a disk was written: %q", r.calls)
	}
}

// partsInUseDisk is a loop device with a GPT of two partitions the kernel
// knows, the first holding a mounted ext4.
func partsInUseDisk(t *testing.T) (dev string, unmount func()) {
	t.Helper()
	partsRootNeeds(t)
	gptNeed(t, "mkfs.ext4", "mount", "umount")
	img := gptImage(t, 64, "-n", "1:0:+16M", "-c", "1:busy", "-n", "2:0:+16M", "-c", "2:idle")
	dev = gptLoop(t, img)
	for _, n := range []string{"1", "2"} {
		if out, err := exec.Command("partx", "--add", "--nr", n, dev).CombinedOutput(); err != nil {
			t.Fatalf("partx: %v: %s", err, out)
		}
	}
	if out, err := exec.Command("mkfs.ext4", "-q", partitionNode(dev, 1)).CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v: %s", err, out)
	}
	_, unmount = fsMount(t, partitionNode(dev, 1), "ext4")
	return dev, unmount
}

// TestPartitionsInUse: a plan that would take a mounted partition from
// the kernel is refused before anything is written; one that keeps it,
// or only touches others, goes ahead while it stays mounted.
func TestPartitionsInUse(t *testing.T) {
	dev, unmount := partsInUseDisk(t)
	defer unmount()
	before := partsHash(t, dev)

	_, err := partsRun(t, dev, true, types.Partition{Number: 1, Label: partsRef("other"), SizeMiB: partsRef(8)})
	t.Logf("refused: %v", err)
	if err == nil || !strings.Contains(err.Error(), "partition 1 ("+partitionNode(dev, 1)+") is in use") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("err = %v, want partition 1 in use", err)
	}
	if partsHash(t, dev) != before {
		t.Fatal("the disk changed")
	}

	// Partition 2 replaced, partition 1 kept: fine while mounted.
	if _, err := partsRun(t, dev, false,
		types.Partition{Number: 1, Label: partsRef("busy")},
		types.Partition{Number: 2, Label: partsRef("new"), WipePartitionEntry: partsRef(true)},
	); err != nil {
		t.Fatal(err)
	}
	if got := partsLayout(partsTable(t, dev)); len(got) != 2 || !strings.HasSuffix(got[1], " new") {
		t.Errorf("table %q", got)
	}
}

// TestFilesystemWholeDiskInUse: a filesystem for a whole disk whose
// partition is mounted is refused before the disk is wiped; once nothing
// holds it, the disk is formatted and the kernel forgets the old
// partitions, which would otherwise point into the new filesystem.
func TestFilesystemWholeDiskInUse(t *testing.T) {
	dev, unmount := partsInUseDisk(t)
	gptNeed(t, "wipefs", "blkid")
	before := partsHash(t, dev)
	yes, format := true, "ext4"
	cfg := types.Config{}
	cfg.Storage.Filesystems = []types.Filesystem{{Device: dev, Format: &format, WipeFilesystem: &yes}}
	run := func() error {
		var buf bytes.Buffer
		_, err := Run(context.Background(), cfg, Env{Log: log.NewWithSink(log.NewWriterSink(&buf)), DeviceTimeout: 10 * time.Second})
		t.Logf("log:\n%s", buf.String())
		return err
	}
	err := run()
	t.Logf("refused: %v", err)
	if err == nil || !strings.Contains(err.Error(), "partition "+partitionNode(dev, 1)+" is in use") {
		t.Fatalf("err = %v, want partition 1 in use", err)
	}
	if partsHash(t, dev) != before {
		t.Fatal("the disk changed")
	}

	unmount()
	if err := run(); err != nil {
		t.Fatal(err)
	}
	if parts, err := sysfsPartitions(dev); err != nil || len(parts) != 0 {
		t.Errorf("the kernel still has partitions %v (%v)", parts, err)
	}
	if out, _ := exec.Command("blkid", "-p", "-o", "value", "-s", "TYPE", dev).Output(); strings.TrimSpace(string(out)) != "ext4" {
		t.Errorf("blkid says %q", out)
	}
}
