package disks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/internal/exec/command"
)

// gptNeed skips the test when a host tool is missing.
func gptNeed(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
}

// gptImage makes a sizeMiB image file and, given sgdisk arguments, runs
// sgdisk on it.
func gptImage(t *testing.T, sizeMiB int64, sgdiskArgs ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, sizeMiB<<20); err != nil {
		t.Fatal(err)
	}
	if len(sgdiskArgs) > 0 {
		gptNeed(t, "sgdisk")
		argv := append(append([]string{"sgdisk"}, sgdiskArgs...), path)
		if err := (command.Exec{}).Run(context.Background(), argv); err != nil {
			t.Fatalf("making the image: %v", err)
		}
	}
	return path
}

// gptPatch overwrites bytes of an image file at off.
func gptPatch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestReadGPT reads a table sgdisk made and compares every field with
// what sgdisk was told.
func TestReadGPT(t *testing.T) {
	img := gptImage(t, 64,
		"--disk-guid=01234567-89AB-CDEF-0123-456789ABCDEF",
		"-n", "1:2048:+1M", "-c", "1:EFI-SYSTEM", "-t", "1:C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
		"-u", "1:11111111-2222-3333-4444-555555555555", "-A", "1:=:8000000000000004",
		"-n", "3:10240:20479", "-c", "3:héllo wörld ✓", "-u", "3:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"-n", "128:0:0", "-c", "128:"+strings.Repeat("x", 36),
	)
	tb, err := readGPT(img)
	if err != nil {
		t.Fatal(err)
	}
	if !tb.found || tb.mbr != mbrProtective || tb.sectorSize != 512 || tb.diskSectors != 64<<11 {
		t.Fatalf("found=%v mbr=%v sectorSize=%d diskSectors=%d", tb.found, tb.mbr, tb.sectorSize, tb.diskSectors)
	}
	if tb.diskGUID != "01234567-89AB-CDEF-0123-456789ABCDEF" {
		t.Errorf("disk GUID %s", tb.diskGUID)
	}
	// 128 entries of 128 bytes at LBA 2: 32 sectors, so 34 is the first
	// usable; the backup array and header take the last 33.
	if tb.numEntries != 128 || tb.firstUsable != 34 || tb.lastUsable != 64<<11-34 {
		t.Errorf("entries=%d usable %d-%d", tb.numEntries, tb.firstUsable, tb.lastUsable)
	}
	want := []gptEntry{
		{number: 1, start: 2048, end: 4095, typeGUID: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
			guid: "11111111-2222-3333-4444-555555555555", attrs: 0x8000000000000004, name: "EFI-SYSTEM"},
		{number: 3, start: 10240, end: 20479, typeGUID: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
			guid: "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE", name: "héllo wörld ✓"},
		{number: 128, start: 20480, end: 64<<11 - 34, typeGUID: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
			name: strings.Repeat("x", 36)},
	}
	if len(tb.entries) != len(want) {
		t.Fatalf("got %d entries: %+v", len(tb.entries), tb.entries)
	}
	for i, w := range want {
		got := tb.entries[i]
		if w.guid == "" { // sgdisk chose it
			w.guid = got.guid
		}
		if got != w {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
	if e, ok := tb.entry(3); !ok || e.sectors() != 10240 {
		t.Errorf("entry(3) = %+v, %v", e, ok)
	}
	if _, ok := tb.entry(2); ok {
		t.Error("entry(2) found")
	}
}

// TestReadGPTNoTable covers disks without a (valid) GPT: what readGPT
// says of each, and that a corrupt table still yields the geometry.
func TestReadGPTNoTable(t *testing.T) {
	dosMBR := make([]byte, 512)
	dosMBR[446+4] = 0x83 // one Linux partition
	dosMBR[510], dosMBR[511] = 0x55, 0xAA
	bootSector := make([]byte, 512) // a filesystem's boot sector, no partitions
	bootSector[510], bootSector[511] = 0x55, 0xAA

	tests := []struct {
		name    string
		img     func(t *testing.T) string
		mbr     mbrKind
		wantErr string
	}{
		{"zeroed", func(t *testing.T) string { return gptImage(t, 8) }, mbrNone, ""},
		{"DOS partition table", func(t *testing.T) string {
			img := gptImage(t, 8)
			gptPatch(t, img, 0, dosMBR)
			return img
		}, mbrDOS, ""},
		{"boot sector without partitions", func(t *testing.T) string {
			img := gptImage(t, 8)
			gptPatch(t, img, 0, bootSector)
			return img
		}, mbrNone, ""},
		{"protective MBR, header zeroed", func(t *testing.T) string {
			img := gptImage(t, 8, "-n", "1:0:0")
			gptPatch(t, img, 512, make([]byte, 512))
			return img
		}, mbrProtective, ""},
		{"header checksum wrong", func(t *testing.T) string {
			img := gptImage(t, 8, "-n", "1:0:0")
			gptPatch(t, img, 512+56, []byte{0xff}) // a byte of the disk GUID
			return img
		}, mbrProtective, "primary GPT header checksum"},
		{"entry array checksum wrong", func(t *testing.T) string {
			img := gptImage(t, 8, "-n", "1:0:0")
			gptPatch(t, img, 1024+56, []byte{'X'}) // partition 1's name
			return img
		}, mbrProtective, "GPT entry array checksum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb, err := readGPT(tc.img(t))
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if tb == nil {
				t.Fatal("no table")
			}
			if tb.found || len(tb.entries) != 0 || tb.mbr != tc.mbr || tb.sectorSize != 512 || tb.diskSectors != 8<<11 {
				t.Errorf("found=%v entries=%d mbr=%v sectorSize=%d diskSectors=%d, want no GPT, %v, 512, %d",
					tb.found, len(tb.entries), tb.mbr, tb.sectorSize, tb.diskSectors, tc.mbr, 8<<11)
			}
		})
	}
}

func TestReadGPTUnreadable(t *testing.T) {
	if _, err := readGPT(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file read")
	}
	tiny := filepath.Join(t.TempDir(), "tiny")
	if err := os.WriteFile(tiny, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if tb, err := readGPT(tiny); err == nil || tb != nil {
		t.Errorf("a 100-byte file: %+v, %v", tb, err)
	}
}

// TestGUIDString checks the mixed-endian layout with the EFI System
// Partition type as the spec stores it.
func TestGUIDString(t *testing.T) {
	b := []byte{0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B}
	if got := guidString(b); got != "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" {
		t.Errorf("guidString = %s", got)
	}
}

// TestReadGPT4K reads a table made on a loop device with 4096-byte
// sectors, through the device (BLKSSZGET) and through its backing file
// (the header found at 4096).
func TestReadGPT4K(t *testing.T) {
	gptNeedRoot(t)
	gptNeed(t, "sgdisk", "losetup")
	img := gptImage(t, 64)
	dev := gptLoop(t, img, "--sector-size", "4096")
	run := func(argv ...string) {
		t.Helper()
		if err := (command.Exec{}).Run(context.Background(), argv); err != nil {
			t.Fatal(err)
		}
	}
	run("sgdisk", "-n", "1:0:+1M", "-c", "1:small", "-n", "2:0:0", dev)
	for _, path := range []string{dev, img} {
		tb, err := readGPT(path)
		if err != nil {
			t.Fatal(err)
		}
		if !tb.found || tb.sectorSize != 4096 || tb.diskSectors != 64<<8 {
			t.Fatalf("%s: found=%v sectorSize=%d diskSectors=%d", path, tb.found, tb.sectorSize, tb.diskSectors)
		}
		// 128 entries of 128 bytes fill 4 sectors of 4096: the first
		// usable is 6; sgdisk aligns on 1 MiB = 256 sectors.
		if tb.firstUsable != 6 || len(tb.entries) != 2 {
			t.Fatalf("%s: first usable %d, %d entries", path, tb.firstUsable, len(tb.entries))
		}
		if e := tb.entries[0]; e.start != 256 || e.end != 511 || e.name != "small" {
			t.Errorf("%s: entry 1 = %+v", path, e)
		}
		if e := tb.entries[1]; e.start != 512 || e.end != tb.lastUsable {
			t.Errorf("%s: entry 2 = %+v, last usable %d", path, e, tb.lastUsable)
		}
	}
}

// gptNeedRoot skips the test unless it runs as root.
func gptNeedRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices")
	}
}

// gptLoop attaches img to a free loop device, detached (with any
// partitions the test gave the kernel) when the test ends.
func gptLoop(t *testing.T, img string, args ...string) string {
	t.Helper()
	argv := append([]string{"losetup", "--find", "--show"}, args...)
	argv = append(argv, img)
	out, err := (command.Exec{}).Output(context.Background(), argv)
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		// The kernel keeps partitions added with BLKPG after the loop
		// device is detached; remove them first. partx fails when there
		// are none, which is fine.
		_ = exec.Command("partx", "--delete", dev).Run()
		if err := exec.Command("losetup", "--detach", dev).Run(); err != nil {
			t.Errorf("losetup --detach %s: %v", dev, err)
		}
	})
	return dev
}

// TestZapGPT: zapGPT leaves no partition table that sgdisk, blkid or our
// reader can find, and the backup header of a table made for a smaller
// disk is erased where that table put it; data between the tables stays.
func TestZapGPT(t *testing.T) {
	gptNeed(t, "sgdisk")
	gptNeed(t, "blkid")
	for _, tc := range []struct {
		name    string
		sizeMiB int64
		grow    int64 // MiB added after the table was made
		args    []string
	}{
		{"gpt", 16, 0, []string{"-n", "1:0:+4M", "-n", "2:0:0"}},
		{"gpt made for a smaller disk", 16, 16, []string{"-n", "1:0:+4M"}},
		{"gpt with 256 entries", 16, 0, []string{"--resize-table=256", "-n", "200:0:+1M"}},
		{"no table", 16, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := gptImage(t, tc.sizeMiB, tc.args...)
			// Boot code in sector 0 and data in the middle of the disk.
			f, err := os.OpenFile(img, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			mark := []byte("data that must survive")
			if _, err := f.WriteAt([]byte{0xeb, 0x63, 0x90}, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(mark, 8<<20); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if tc.grow > 0 {
				if err := os.Truncate(img, (tc.sizeMiB+tc.grow)<<20); err != nil {
					t.Fatal(err)
				}
			}
			tb, err := readGPT(img)
			if err != nil {
				t.Fatal(err)
			}
			if got := tb.found; got != (tc.args != nil) {
				t.Fatalf("table found before: %v", got)
			}
			if err := zapGPT(img, tb); err != nil {
				t.Fatal(err)
			}
			after, err := readGPT(img)
			if err != nil || after.found || after.mbr != mbrNone {
				t.Errorf("after zapGPT: found %v, mbr %v, err %v", after.found, after.mbr, err)
			}
			b, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			if !allZero(b[:512]) {
				t.Error("sector 0 is not erased")
			}
			if tc.grow > 0 {
				old := (tc.sizeMiB << 20) - 512 // where the old backup header was
				if string(b[old:old+8]) == gptSignature {
					t.Error("the old backup header is left")
				}
			}
			if string(b[8<<20:(8<<20)+len(mark)]) != string(mark) {
				t.Error("data between the tables was erased")
			}
			out, _ := exec.Command("sgdisk", "-p", img).CombinedOutput()
			if strings.Contains(string(out), "Found valid GPT") || strings.Contains(string(out), "corrupt") {
				t.Errorf("sgdisk still finds a table:\n%s", out)
			}
			if out, _ := exec.Command("blkid", "-p", "-o", "export", img).CombinedOutput(); strings.Contains(string(out), "PTTYPE") {
				t.Errorf("blkid still finds a table:\n%s", out)
			}
		})
	}
}
