package disks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
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

func partsRef[T any](v T) *T { return &v }

// partsRunner runs host commands for real (sgdisk on image files) and
// records them; partx it plays itself against a fake kernel, since an
// image file has no kernel partitions.
type partsRunner struct {
	mu     sync.Mutex
	calls  [][]string
	kernel map[int]kernelPart // the fake kernel's partitions of the image
	noAdd  bool               // partx --add does nothing (a kernel that never shows them)
	busy   int                // how many partx --delete fail first, as if the partition were open
}

func (r *partsRunner) Run(ctx context.Context, argv []string) error {
	r.mu.Lock()
	r.calls = append(r.calls, slices.Clone(argv))
	r.mu.Unlock()
	if argv[0] == distro.PartxCmd() {
		return r.partx(argv)
	}
	if argv[0] == distro.UdevadmCmd() {
		return nil
	}
	return command.Exec{}.Run(ctx, argv)
}

func (r *partsRunner) Output(ctx context.Context, argv []string) ([]byte, error) {
	r.mu.Lock()
	r.calls = append(r.calls, slices.Clone(argv))
	r.mu.Unlock()
	return command.Exec{}.Output(ctx, argv)
}

// partx does what partx --delete/--update/--add --nr N does to a kernel
// that, like the real one, refuses overlapping partitions.
func (r *partsRunner) partx(argv []string) error {
	if len(argv) != 5 || argv[2] != "--nr" {
		return fmt.Errorf("unexpected %q", argv)
	}
	n, err := strconv.Atoi(argv[3])
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kernel == nil {
		r.kernel = map[int]kernelPart{}
	}
	if argv[1] == "--delete" {
		if r.busy > 0 {
			r.busy--
			return fmt.Errorf("partx: error deleting partition %d", n)
		}
		if _, ok := r.kernel[n]; !ok {
			return fmt.Errorf("partx: no partition %d", n)
		}
		delete(r.kernel, n)
		return nil
	}
	t, err := readGPT(argv[4])
	if err != nil {
		return err
	}
	e, ok := t.entry(n)
	if !ok {
		return fmt.Errorf("partx: the table has no partition %d", n)
	}
	unit := t.sectorSize / 512
	k := kernelPart{start: e.start * unit, size: e.sectors() * unit}
	_, had := r.kernel[n]
	switch {
	case argv[1] == "--add" && had, argv[1] == "--update" && !had:
		return fmt.Errorf("partx %s: partition %d: kernel has it: %v", argv[1], n, had)
	case argv[1] == "--add" && r.noAdd:
		return nil
	}
	for m, o := range r.kernel {
		if m != n && k.start < o.start+o.size && o.start < k.start+k.size {
			return fmt.Errorf("partx %s: partition %d overlaps partition %d", argv[1], n, m)
		}
	}
	r.kernel[n] = k
	return nil
}

// commands returns the recorded commands, each joined by spaces, with
// the image path shortened to "IMG".
func (r *partsRunner) commands(img string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		out = append(out, strings.ReplaceAll(strings.Join(c, " "), img, "IMG"))
	}
	return out
}

// writes returns the recorded commands that could write: anything but
// sgdisk --pretend.
func (r *partsRunner) writes(img string) []string {
	var out []string
	for _, c := range r.commands(img) {
		if !strings.HasPrefix(c, distro.SgdiskCmd()+" --pretend ") {
			out = append(out, c)
		}
	}
	return out
}

// partsKernels routes the kernel view of each image to its runner's
// fake kernel, for the duration of the test (and its parallel subtests).
type partsKernels struct {
	mu      sync.Mutex
	runners map[string]*partsRunner
}

func partsFakeKernel(t *testing.T) *partsKernels {
	k := &partsKernels{runners: map[string]*partsRunner{}}
	oldParts, oldBlock, oldUdev := kernelPartitions, isBlockDevice, udevControl
	kernelPartitions = func(disk string) (map[int]kernelPart, error) {
		k.mu.Lock()
		r := k.runners[disk]
		k.mu.Unlock()
		if r == nil {
			return nil, fmt.Errorf("no fake kernel for %s", disk)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		return maps.Clone(r.kernel), nil
	}
	isBlockDevice = func(string) error { return nil }
	udevControl = filepath.Join(t.TempDir(), "no-udev")
	t.Cleanup(func() { kernelPartitions, isBlockDevice, udevControl = oldParts, oldBlock, oldUdev })
	return k
}

func (k *partsKernels) add(img string, r *partsRunner) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.runners[img] = r
}

// partsStage is a stage running commands through r, logging to buf.
func partsStage(r command.OutputRunner, buf *bytes.Buffer) *stage {
	return &stage{
		cfg:     &types.Config{},
		e:       Env{DeviceTimeout: 5 * time.Second},
		cmd:     r,
		log:     log.NewWithSink(log.NewWriterSink(buf)),
		devices: map[string]string{},
	}
}

func partsHash(t *testing.T, path string) [sha256.Size]byte {
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
	return [sha256.Size]byte(h.Sum(nil))
}

// partsCopy copies src into a new file of the test.
func partsCopy(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// partsLayout is a table as "N start-end name" lines.
func partsLayout(t *gptTable) []string {
	var out []string
	for _, e := range t.entries {
		out = append(out, fmt.Sprintf("%d %d-%d %s", e.number, e.start, e.end, e.name))
	}
	return out
}

const (
	efiType  = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	bootGUID = "11111111-2222-3333-4444-555555555555"
	rootGUID = "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"
)

// TestPlanAndApply runs the reuse matrix and the placement rules with
// real sgdisk (--pretend to plan, then for real) on image files, and a
// fake kernel.
func TestPlanAndApply(t *testing.T) {
	gptNeed(t, "sgdisk")
	kernels := partsFakeKernel(t)
	// 100 MiB: boot 1-11 MiB, root 11-31 MiB, free 31 MiB to the end
	// (sector 204766) and the 1007 KiB before boot.
	base := gptImage(t, 100,
		"-n", "1:2048:+10M", "-c", "1:boot", "-t", "1:"+efiType, "-u", "1:"+bootGUID,
		"-n", "2:22528:+20M", "-c", "2:root", "-u", "2:"+rootGUID)
	baseLayout := []string{"1 2048-22527 boot", "2 22528-63487 root"}
	// 100 MiB: a 5 MiB partition at 1 MiB, a 10 MiB one at 20 MiB; free
	// 6-20 MiB (14 MiB) and 30 MiB to the end (70 MiB).
	gaps := gptImage(t, 100, "-n", "1:2048:+5M", "-n", "2:40960:+10M")
	gapsLayout := []string{"1 2048-12287 ", "2 40960-61439 "}

	yes, no := partsRef(true), partsRef(false)
	tests := []struct {
		name      string
		img       string
		wipeTable bool
		parts     []types.Partition
		err       string   // planDisk fails with this
		steps     []string // the plan's log lines
		after     []string // the table afterwards
		guids     map[int]string
	}{
		// The matrix: present × shouldExist × wipePartitionEntry.
		{
			name:  "absent, shouldExist false: nothing",
			img:   base,
			parts: []types.Partition{{Number: 5, ShouldExist: no}, {Number: 6, ShouldExist: no, WipePartitionEntry: yes}},
			after: baseLayout,
		},
		{
			name:  "absent: created in the largest free block",
			img:   base,
			parts: []types.Partition{{Number: 3, Label: partsRef("data"), SizeMiB: partsRef(10)}},
			steps: []string{`partition 3 "data": create at sector 63488, 10 MiB`},
			after: append(slices.Clone(baseLayout), "3 63488-83967 data"),
		},
		{
			name:  "absent with wipePartitionEntry: created",
			img:   base,
			parts: []types.Partition{{Number: 4, SizeMiB: partsRef(1), WipePartitionEntry: yes}},
			steps: []string{`partition 4: create at sector 63488, 1 MiB`},
			after: append(slices.Clone(baseLayout), "4 63488-65535 "),
		},
		{
			name:  "present, shouldExist false, no wipePartitionEntry: fails",
			img:   base,
			parts: []types.Partition{{Number: 2, ShouldExist: no}},
			err:   "partition 2: it exists and shouldExist is false, but wipePartitionEntry is false",
		},
		{
			name:  "present, shouldExist false, wipePartitionEntry: deleted",
			img:   base,
			parts: []types.Partition{{Number: 2, ShouldExist: no, WipePartitionEntry: yes}},
			steps: []string{`partition 2 "root": delete`},
			after: baseLayout[:1],
		},
		{
			name:  "present and matching: reused",
			img:   base,
			parts: []types.Partition{{Number: 2, Label: partsRef("root"), StartMiB: partsRef(11), SizeMiB: partsRef(20), GUID: partsRef(strings.ToLower(rootGUID))}},
			steps: []string{`partition 2 "root": reuse`},
			after: baseLayout,
			guids: map[int]string{2: rootGUID},
		},
		{
			name:  "present, label differs: fails",
			img:   base,
			parts: []types.Partition{{Number: 1, Label: partsRef("root")}},
			err:   `partition 1: label is "boot" on the disk, the config wants "root"; without wipePartitionEntry it cannot be replaced`,
		},
		{
			name:  "present, start differs: fails",
			img:   base,
			parts: []types.Partition{{Number: 2, StartMiB: partsRef(12)}},
			err:   "partition 2: start is sector 22528 on the disk, the config wants sector 24576",
		},
		{
			name:  "present, type GUID differs: fails",
			img:   base,
			parts: []types.Partition{{Number: 1, TypeGUID: partsRef("0FC63DAF-8483-4772-8E79-3D69D8477DE4")}},
			err:   "partition 1: type GUID is " + efiType + " on the disk, the config wants 0FC63DAF-8483-4772-8E79-3D69D8477DE4",
		},
		{
			name:  "present, GUID differs: fails",
			img:   base,
			parts: []types.Partition{{Number: 2, GUID: partsRef("aaaaaaaa-bbbb-cccc-dddd-000000000000")}},
			err:   "partition 2: GUID is " + rootGUID + " on the disk, the config wants AAAAAAAA-BBBB-CCCC-DDDD-000000000000",
		},
		{
			name:  "present, size differs, no resize: fails",
			img:   base,
			parts: []types.Partition{{Number: 2, SizeMiB: partsRef(30)}},
			err:   "partition 2: size is 20 MiB on the disk, the config wants 30 MiB; set resize to resize it or wipePartitionEntry to replace it",
		},
		{
			name:  "present, size differs, resize: resized in place, GUID and type kept",
			img:   base,
			parts: []types.Partition{{Number: 1, Label: partsRef("boot"), SizeMiB: partsRef(5), Resize: yes}, {Number: 2, SizeMiB: partsRef(30), Resize: yes}},
			steps: []string{
				`partition 1 "boot": resize to 5 MiB, start stays at sector 2048`,
				`partition 2 "root": resize to 30 MiB, start stays at sector 22528`,
			},
			after: []string{"1 2048-12287 boot", "2 22528-83967 root"},
			guids: map[int]string{1: bootGUID, 2: rootGUID},
		},
		{
			name:  "present, size 0 and resize: grown to the end of the largest block",
			img:   base,
			parts: []types.Partition{{Number: 2, SizeMiB: partsRef(0), Resize: yes}},
			steps: []string{`partition 2 "root": resize to 182239 sectors (88.98 MiB), start stays at sector 22528`},
			after: []string{"1 2048-22527 boot", "2 22528-204766 root"},
			guids: map[int]string{2: rootGUID},
		},
		{
			name:  "present, resize, but the label differs too: fails",
			img:   base,
			parts: []types.Partition{{Number: 2, Label: partsRef("x"), SizeMiB: partsRef(30), Resize: yes}},
			err:   `partition 2: label is "root" on the disk, the config wants "x"; size is 20 MiB on the disk, the config wants 30 MiB; without wipePartitionEntry`,
		},
		{
			name:  "present, matching, wipePartitionEntry: reused",
			img:   base,
			parts: []types.Partition{{Number: 2, Label: partsRef("root"), StartMiB: partsRef(11), SizeMiB: partsRef(20), WipePartitionEntry: yes}},
			steps: []string{`partition 2 "root": reuse`},
			after: baseLayout,
			guids: map[int]string{2: rootGUID},
		},
		{
			name:  "present, differing, wipePartitionEntry: replaced at the start of the largest block",
			img:   base,
			parts: []types.Partition{{Number: 2, Label: partsRef("new"), SizeMiB: partsRef(5), WipePartitionEntry: yes}},
			steps: []string{`partition 2 "new": delete and create at sector 22528, 5 MiB (label is "root" on the disk, the config wants "new"; size is 20 MiB on the disk, the config wants 5 MiB)`},
			after: []string{"1 2048-22527 boot", "2 22528-32767 new"},
		},
		{
			name:  "present, unspecified start and size with wipePartitionEntry: as if 0",
			img:   base,
			parts: []types.Partition{{Number: 2, Label: partsRef("root"), WipePartitionEntry: yes}},
			steps: []string{`partition 2 "root": delete and create at sector 22528, 182239 sectors (88.98 MiB) (size is 20 MiB on the disk, the config wants 182239 sectors (88.98 MiB))`},
			after: []string{"1 2048-22527 boot", "2 22528-204766 root"},
		},
		{
			name:  "present, unspecified start and size keep the present ones; type GUIDs compare case-insensitively",
			img:   base,
			parts: []types.Partition{{Number: 1, TypeGUID: partsRef(strings.ToLower(efiType))}},
			steps: []string{`partition 1 "boot": reuse`},
			after: baseLayout,
		},
		{
			name: "deletions go first, wherever they are in the config",
			img:  base,
			parts: []types.Partition{
				{Number: 3, Label: partsRef("big"), StartMiB: partsRef(11), SizeMiB: partsRef(40)},
				{Number: 2, ShouldExist: no, WipePartitionEntry: yes},
			},
			steps: []string{`partition 2 "root": delete`, `partition 3 "big": create at sector 22528, 40 MiB`},
			after: []string{"1 2048-22527 boot", "3 22528-104447 big"},
		},
		{
			name: "number 0 takes the lowest number neither the disk nor the config uses",
			img:  base,
			parts: []types.Partition{
				{Label: partsRef("a"), SizeMiB: partsRef(1)},
				{Number: 3, Label: partsRef("c"), SizeMiB: partsRef(1)},
			},
			steps: []string{`partition 4 "a": create at sector 63488, 1 MiB`, `partition 3 "c": create at sector 65536, 1 MiB`},
			after: append(slices.Clone(baseLayout), "3 65536-67583 c", "4 63488-65535 a"),
		},
		{
			name:  "a partition over another one: sgdisk says no",
			img:   base,
			parts: []types.Partition{{Number: 3, StartMiB: partsRef(5), SizeMiB: partsRef(1)}},
			err:   "partition 3: sgdisk cannot create it: sgdisk: exit status 4: Could not create partition 3 from 10240 to 12287",
		},
		{
			name: "past the end of the disk: the error names the partition",
			img:  base,
			parts: []types.Partition{
				{Number: 3, Label: partsRef("fits"), SizeMiB: partsRef(1)},
				{Label: partsRef("big"), SizeMiB: partsRef(200)},
			},
			err: `partition 4 ("big", number 0): sgdisk cannot create it: sgdisk: exit status 4: Could not create partition 4 from`,
		},

		// Placement: the largest free block, not the first that fits.
		{
			name:  "start 0: the start of the largest free block",
			img:   gaps,
			parts: []types.Partition{{Number: 3, StartMiB: partsRef(0), SizeMiB: partsRef(5)}},
			steps: []string{`partition 3: create at sector 61440, 5 MiB`},
			after: append(slices.Clone(gapsLayout), "3 61440-71679 "),
		},
		{
			name:  "size 0 from a start in the largest free block: to its end",
			img:   gaps,
			parts: []types.Partition{{Number: 3, StartMiB: partsRef(40), SizeMiB: partsRef(0)}},
			steps: []string{`partition 3: create at sector 81920, 122847 sectors (59.98 MiB)`},
			after: append(slices.Clone(gapsLayout), "3 81920-204766 "),
		},
		{
			name:  "size 0 from a start outside the largest free block: fails",
			img:   gaps,
			parts: []types.Partition{{Number: 3, StartMiB: partsRef(7), SizeMiB: partsRef(0)}},
			err:   "partition 3: it is to fill the largest free block (sectors 61440-204766), but starts at sector 14336, outside it",
		},
		{
			name:  "size 0 and resize, but the partition is not in the largest free block: fails",
			img:   gaps,
			parts: []types.Partition{{Number: 1, SizeMiB: partsRef(0), Resize: yes}},
			err:   "partition 1: it is to fill the largest free block (sectors 61440-204766), but starts at sector 2048, outside it",
		},
		{
			name:  "unspecified start and size of a new partition: the whole largest free block",
			img:   gaps,
			parts: []types.Partition{{Number: 3, Label: partsRef("rest")}},
			steps: []string{`partition 3 "rest": create at sector 61440, 143327 sectors (69.98 MiB)`},
			after: append(slices.Clone(gapsLayout), "3 61440-204766 rest"),
		},

		// wipeTable.
		{
			name:      "wipeTable: every partition is created on an empty table",
			img:       base,
			wipeTable: true,
			parts:     []types.Partition{{Number: 2, Label: partsRef("root"), SizeMiB: partsRef(4)}},
			steps:     []string{`partition 2 "root": create at sector 2048, 4 MiB`},
			after:     []string{"2 2048-10239 root"},
		},
		{
			name:      "wipeTable without partitions: the table is erased",
			img:       base,
			wipeTable: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img := partsCopy(t, tc.img)
			r := &partsRunner{}
			kernels.add(img, r)
			var buf bytes.Buffer
			s := partsStage(r, &buf)
			d := types.Disk{Device: img, Partitions: tc.parts, WipeTable: &tc.wipeTable}
			before := partsHash(t, img)

			p, err := s.planDisk(context.Background(), "storage.disks.0", d, img)
			if partsHash(t, img) != before {
				t.Fatal("planDisk changed the image")
			}
			if w := r.writes(img); len(w) > 0 {
				t.Fatalf("planDisk ran %q", w)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("planDisk error = %v\nwant %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("planDisk: %v", err)
			}
			var steps []string
			for line := range strings.Lines(buf.String()) {
				if _, step, ok := strings.Cut(strings.TrimSpace(line), img+": "); ok && strings.HasPrefix(step, "partition ") {
					steps = append(steps, step)
				}
			}
			if !slices.Equal(steps, tc.steps) {
				t.Errorf("plan:\n got %q\nwant %q", steps, tc.steps)
			}

			if err := s.applyDisk(context.Background(), p); err != nil {
				t.Fatalf("applyDisk: %v", err)
			}
			onlyKept := !tc.wipeTable && !slices.ContainsFunc(p.steps, func(st partStep) bool { return st.kind != stepKeep })
			wrote := slices.ContainsFunc(r.writes(img), func(c string) bool { return strings.HasPrefix(c, distro.SgdiskCmd()) })
			// writeGPT writes these tables; sgdisk only plans.
			if wrote {
				t.Errorf("sgdisk wrote: %q", r.commands(img))
			}
			if out, err := exec.Command("sgdisk", "--verify", img).CombinedOutput(); err != nil || !strings.Contains(string(out), "No problems found") {
				t.Errorf("sgdisk --verify: %v\n%s", err, out)
			}
			if changed := partsHash(t, img) != before; changed == onlyKept {
				t.Errorf("nothing to change: %v, the image changed: %v", onlyKept, changed)
			}
			tb, err := readGPT(img)
			if err != nil {
				t.Fatal(err)
			}
			if got := partsLayout(tb); !slices.Equal(got, tc.after) {
				t.Errorf("table afterwards:\n got %q\nwant %q", got, tc.after)
			}
			for n, g := range tc.guids {
				if e, _ := tb.entry(n); e.guid != g {
					t.Errorf("partition %d has GUID %s, want %s", n, e.guid, g)
				}
			}
			// The fake kernel now has exactly the table's partitions.
			want := map[int]kernelPart{}
			for _, e := range tb.entries {
				want[e.number] = kernelPart{start: e.start, size: e.sectors()}
			}
			if have, _ := kernelPartitions(img); !maps.Equal(have, want) && !(len(have) == 0 && len(want) == 0) {
				t.Errorf("kernel has %v, want %v", have, want)
			}
		})
	}
}

// TestPlanGrownDisk: an image written to a larger disk has its backup
// header where the image ended; a partition filling the disk reaches the
// disk's end, not the image's.
func TestPlanGrownDisk(t *testing.T) {
	gptNeed(t, "sgdisk")
	kernels := partsFakeKernel(t)
	img := gptImage(t, 50, "-n", "1:0:+10M")
	if err := os.Truncate(img, 100<<20); err != nil {
		t.Fatal(err)
	}
	r := &partsRunner{}
	kernels.add(img, r)
	var buf bytes.Buffer
	s := partsStage(r, &buf)
	d := types.Disk{Device: img, Partitions: []types.Partition{{Number: 2, Label: partsRef("rest")}}}
	p, err := s.planDisk(context.Background(), "storage.disks.0", d, img)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.applyDisk(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	tb, err := readGPT(img)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := partsLayout(tb), []string{"1 2048-22527 ", "2 22528-204766 rest"}; !slices.Equal(got, want) {
		t.Errorf("table %q, want %q", got, want)
	}
}

// TestPlanKeepsTypeAndAttributesOnResize checks that a resize keeps what
// the config does not mention: type, GUID, label and attribute bits.
func TestPlanKeepsTypeAndAttributesOnResize(t *testing.T) {
	gptNeed(t, "sgdisk")
	kernels := partsFakeKernel(t)
	img := gptImage(t, 32, "-n", "1:0:+4M", "-c", "1:esp", "-t", "1:"+efiType, "-u", "1:"+bootGUID, "-A", "1:=:8000000000000005")
	before, err := readGPT(img)
	if err != nil {
		t.Fatal(err)
	}
	r := &partsRunner{}
	kernels.add(img, r)
	var buf bytes.Buffer
	s := partsStage(r, &buf)
	d := types.Disk{Device: img, Partitions: []types.Partition{{Number: 1, SizeMiB: partsRef(8), Resize: partsRef(true)}}}
	p, err := s.planDisk(context.Background(), "storage.disks.0", d, img)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.applyDisk(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	after, err := readGPT(img)
	if err != nil {
		t.Fatal(err)
	}
	want := before.entries[0]
	want.end = want.start + 8<<11 - 1
	if after.entries[0] != want {
		t.Errorf("after the resize:\n got %+v\nwant %+v", after.entries[0], want)
	}
}

// TestPlanDiskTables covers the disks planDisk will not touch without
// wipeTable, and that it reads nothing when the config asks nothing.
func TestPlanDiskTables(t *testing.T) {
	gptNeed(t, "sgdisk")
	dosMBR := make([]byte, 512)
	dosMBR[446+4] = 0x83
	dosMBR[510], dosMBR[511] = 0x55, 0xAA
	tests := []struct {
		name string
		img  func(t *testing.T) string
		err  string // without wipeTable; with it, planning works
	}{
		{"DOS partition table", func(t *testing.T) string {
			img := gptImage(t, 16)
			gptPatch(t, img, 0, dosMBR)
			return img
		}, "the disk has a DOS (MBR) partition table, not a GPT; set wipeTable to replace it"},
		{"protective MBR without a GPT header", func(t *testing.T) string {
			img := gptImage(t, 16, "-n", "1:0:0")
			gptPatch(t, img, 512, make([]byte, 512))
			return img
		}, "the disk has a protective MBR but no valid GPT header at LBA 1"},
		{"corrupt GPT header", func(t *testing.T) string {
			img := gptImage(t, 16, "-n", "1:0:0")
			gptPatch(t, img, 512+60, []byte{1, 2, 3})
			return img
		}, "primary GPT header checksum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.img(t)
			parts := []types.Partition{{Number: 1, SizeMiB: partsRef(1)}}
			var buf bytes.Buffer
			s := partsStage(&partsRunner{}, &buf)
			_, err := s.planDisk(context.Background(), "storage.disks.0", types.Disk{Device: img, Partitions: parts}, img)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			p, err := s.planDisk(context.Background(), "storage.disks.0", types.Disk{Device: img, Partitions: parts, WipeTable: partsRef(true)}, img)
			if err != nil {
				t.Fatalf("with wipeTable: %v", err)
			}
			if len(p.steps) != 1 || p.steps[0].kind != stepCreate || p.steps[0].start != 2048 || !p.zap || p.layout == nil {
				t.Errorf("with wipeTable: steps %+v, args %q", p.steps, p.args)
			}
		})
	}

	t.Run("nothing asked", func(t *testing.T) {
		r := &partsRunner{}
		var buf bytes.Buffer
		s := partsStage(r, &buf)
		missing := filepath.Join(t.TempDir(), "missing")
		p, err := s.planDisk(context.Background(), "storage.disks.0", types.Disk{Device: missing}, missing)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.applyDisk(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		if len(r.calls) != 0 {
			t.Errorf("ran %q", r.calls)
		}
	})

	t.Run("number beyond the entry array", func(t *testing.T) {
		img := gptImage(t, 16, "-n", "1:0:+1M")
		var buf bytes.Buffer
		s := partsStage(&partsRunner{}, &buf)
		_, err := s.planDisk(context.Background(), "storage.disks.0", types.Disk{Device: img, Partitions: []types.Partition{{Number: 129, SizeMiB: partsRef(1)}}}, img)
		if err == nil || !strings.Contains(err.Error(), "partition 129: the table has room for 128 partitions") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestTellKernel starts from a kernel that has the old layout and checks
// that partitions are removed, shrunk and added in an order the kernel
// accepts (no two of its partitions ever overlap), and that a partition
// busy for a moment is removed on a second try.
func TestTellKernel(t *testing.T) {
	gptNeed(t, "sgdisk")
	kernels := partsFakeKernel(t)
	img := gptImage(t, 100,
		"-n", "1:2048:+10M", "-c", "1:boot",
		"-n", "2:22528:+20M", "-c", "2:root")
	r := &partsRunner{kernel: map[int]kernelPart{1: {2048, 20480}, 2: {22528, 40960}}, busy: 1}
	kernels.add(img, r)
	var buf bytes.Buffer
	s := partsStage(r, &buf)
	d := types.Disk{Device: img, Partitions: []types.Partition{
		{Number: 1, SizeMiB: partsRef(5), Resize: partsRef(true)},
		{Number: 2, ShouldExist: partsRef(false), WipePartitionEntry: partsRef(true)},
		{Number: 3, StartMiB: partsRef(6), SizeMiB: partsRef(30)},
	}}
	p, err := s.planDisk(context.Background(), "storage.disks.0", d, img)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.applyDisk(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	px := distro.PartxCmd()
	want := []string{
		px + " --delete --nr 2 IMG",
		px + " --delete --nr 2 IMG",
		px + " --update --nr 1 IMG",
		px + " --add --nr 3 IMG",
	}
	if got := r.writes(img); !slices.Equal(got, want) {
		t.Errorf("commands:\n got %q\nwant %q", got, want)
	}
	wantKernel := map[int]kernelPart{1: {2048, 10240}, 3: {12288, 61440}}
	if !maps.Equal(r.kernel, wantKernel) {
		t.Errorf("kernel has %v, want %v", r.kernel, wantKernel)
	}
}

// TestTellKernelTimeout: a partition the kernel never shows fails after
// DeviceTimeout, naming the node; a running udev is waited for.
func TestTellKernelTimeout(t *testing.T) {
	gptNeed(t, "sgdisk")
	kernels := partsFakeKernel(t)
	udevControl = filepath.Join(t.TempDir(), "control")
	if err := os.WriteFile(udevControl, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	img := gptImage(t, 16)
	r := &partsRunner{noAdd: true}
	kernels.add(img, r)
	var buf bytes.Buffer
	s := partsStage(r, &buf)
	s.e.DeviceTimeout = 200 * time.Millisecond
	d := types.Disk{Device: img, Partitions: []types.Partition{{Number: 1, SizeMiB: partsRef(1)}}}
	p, err := s.planDisk(context.Background(), "storage.disks.0", d, img)
	if err != nil {
		t.Fatal(err)
	}
	err = s.applyDisk(context.Background(), p)
	want := "partition 1: " + img + "1 did not appear within 200ms: the kernel does not have it"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if !slices.Contains(r.commands(img), distro.UdevadmCmd()+" settle") {
		t.Errorf("udev was not waited for: %q", r.commands(img))
	}
}

// TestCheck: a table that is not the planned one is reported, every
// difference at once.
func TestCheck(t *testing.T) {
	p := &diskPlan{
		want: map[int]gptEntry{
			1: {number: 1, start: 2048, end: 4095, typeGUID: efiType, guid: bootGUID, name: "boot"},
			2: {number: 2, start: 4096, end: 8191, typeGUID: linuxFilesystemType, name: "new"},
		},
		randomGUID: map[int]bool{2: true},
	}
	good := &gptTable{entries: []gptEntry{
		{number: 1, start: 2048, end: 4095, typeGUID: efiType, guid: bootGUID, name: "boot"},
		{number: 2, start: 4096, end: 8191, typeGUID: linuxFilesystemType, guid: rootGUID, name: "new"},
	}}
	if err := p.check(good); err != nil {
		t.Fatal(err)
	}
	bad := &gptTable{entries: []gptEntry{
		{number: 1, start: 2048, end: 4000, typeGUID: efiType, guid: rootGUID, name: "boot", attrs: 1},
		{number: 3, start: 4096, end: 8191},
	}}
	err := p.check(bad)
	want := "the table on the disk is not the planned one: partition 1 is at sectors 2048-4000, not 2048-4095; " +
		"partition 1 has GUID " + rootGUID + ", not " + bootGUID + "; partition 1 has attributes 0000000000000001, not 0000000000000000; " +
		"partition 2 is missing; partition 3 should not be there"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestReadPretend(t *testing.T) {
	reqs := func() []*request {
		return []*request{
			{p: types.Partition{Number: 1}, number: 1, shouldExist: true, fill: true},
			{p: types.Partition{Number: 2}, number: 2, shouldExist: false},
			{p: types.Partition{Label: partsRef("c")}, number: 3, shouldExist: true},
		}
	}
	good := "Creating new GPT entries in memory.\n34\n2047\n" +
		"Partition GUID code: 0FC63DAF-8483-4772-8E79-3D69D8477DE4 (Linux filesystem)\nFirst sector: 2048 (at 1024.0 KiB)\nLast sector: 4095 (at 2.0 MiB)\nPartition name: ''\n" +
		"Partition GUID code: 0FC63DAF-8483-4772-8E79-3D69D8477DE4 (Linux filesystem)\nFirst sector: 4096 (at 2.0 MiB)\nLast sector: 8191 (at 4.0 MiB)\n"
	rs := reqs()
	if err := readPretend([]byte(good), rs); err != nil {
		t.Fatal(err)
	}
	if r := rs[0]; r.start != 2048 || r.end != 4095 || r.largestFirst != 34 || r.largestLast != 2047 {
		t.Errorf("partition 1: %+v", r)
	}
	if r := rs[2]; r.start != 4096 || r.end != 8191 {
		t.Errorf("partition 3: %+v", r)
	}
	for _, tc := range []struct{ out, err string }{
		{"34\n2047\nPartition #1 does not exist.\n", "Partition #1 does not exist."},
		{"34\n2047\nFirst sector: 1\nLast sector: 2\n", "got 2 free-block sectors and 1 partitions, want 2 and 2"},
		{"34\nFirst sector: 1\nLast sector: 2\nFirst sector: 3\nLast sector: 4\n", "got 1 free-block sectors"},
		{"34\n2047\nFirst sector: 1\nLast sector: 2\nFirst sector: 4\nLast sector: 3\n", `partition 3 ("c", number 0): no valid extent`},
		{"Last sector: 2\n", "without a first sector"},
		{"34\n2047\nFirst sector: 9\nLast sector: 2\nFirst sector: 3\nLast sector: 4\n", "partition 1: no valid extent"},
		{"First sector: x\n", `"First sector: x"`},
	} {
		err := readPretend([]byte(tc.out), reqs())
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: err = %v, want %q", tc.out, err, tc.err)
		}
	}
}

func TestPartitionNode(t *testing.T) {
	for disk, want := range map[string]string{
		"/dev/vda":     "/dev/vda2",
		"/dev/sdb":     "/dev/sdb2",
		"/dev/nvme0n1": "/dev/nvme0n1p2",
		"/dev/loop3":   "/dev/loop3p2",
		"/dev/mmcblk0": "/dev/mmcblk0p2",
	} {
		if got := partitionNode(disk, 2); got != want {
			t.Errorf("partitionNode(%s, 2) = %s, want %s", disk, got, want)
		}
	}
}

func TestSizeString(t *testing.T) {
	for _, tc := range []struct {
		sectors, size uint64
		want          string
	}{
		{2048, 512, "1 MiB"},
		{256, 4096, "1 MiB"},
		{1000, 512, "1000 sectors (0.49 MiB)"},
	} {
		if got := sizeString(tc.sectors, tc.size); got != tc.want {
			t.Errorf("sizeString(%d, %d) = %q, want %q", tc.sectors, tc.size, got, tc.want)
		}
	}
}

// TestPartitionsSgdiskFallback: a table writeGPT does not rewrite (here
// one whose entry array is at LBA 64, not 2) is written by sgdisk, and
// the result is the plan all the same.
func TestPartitionsSgdiskFallback(t *testing.T) {
	gptNeed(t, "sgdisk")
	kernels := partsFakeKernel(t)
	img := gptImage(t, 64, "-j", "64", "-n", "1:2048:+4M", "-c", "1:keep")
	r := &partsRunner{}
	kernels.add(img, r)
	var buf bytes.Buffer
	s := partsStage(r, &buf)
	d := types.Disk{Device: img, Partitions: []types.Partition{
		{Number: 1, Label: partsRef("keep")},
		{Number: 2, Label: partsRef("new"), SizeMiB: partsRef(8)},
	}}
	p, err := s.planDisk(context.Background(), "storage.disks.0", d, img)
	if err != nil {
		t.Fatal(err)
	}
	if p.layout != nil || p.args == nil {
		t.Fatalf("planned layout %v, sgdisk args %q; want sgdisk", p.layout, p.args)
	}
	if err := s.applyDisk(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if w := r.writes(img); len(w) == 0 || !strings.HasPrefix(w[0], distro.SgdiskCmd()+" --move-second-header") {
		t.Errorf("writes %q, want sgdisk first", w)
	}
	tb := partsTable(t, img)
	if got, want := partsLayout(tb), []string{"1 2048-10239 keep", "2 10240-26623 new"}; !slices.Equal(got, want) {
		t.Errorf("table %q, want %q", got, want)
	}
	if tb.arrayLBA != 64 {
		t.Errorf("entry array moved to LBA %d", tb.arrayLBA)
	}
}
