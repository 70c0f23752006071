package disks

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestWriteGPT writes tables with writeGPT and has sgdisk, the reference
// reader, verify them and read every field back; our reader must agree.
func TestWriteGPT(t *testing.T) {
	gptNeed(t, "sgdisk")
	const (
		esp   = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
		guid1 = "5E1B3C1A-0D6B-4C3E-9F1D-2A7B8C9D0E1F"
	)
	entries := []gptEntry{
		{number: 1, start: 2048, end: 10239, typeGUID: esp, guid: guid1, name: "EFI-SYSTEM", attrs: 1 << 60},
		{number: 3, start: 10240, end: 20479, typeGUID: linuxFilesystemType, name: "données"},
		{number: 128, start: 20480, end: 30719, typeGUID: linuxFilesystemType, name: strings.Repeat("x", 36)},
	}
	for _, tc := range []struct {
		name   string
		layout gptLayout
	}{
		{"new table", gptLayout{numEntries: 128, entries: entries}},
		{"kept geometry", gptLayout{numEntries: 128, firstUsable: 2048, diskGUID: "00112233-4455-6677-8899-AABBCCDDEEFF", entries: entries[:2]}},
		{"256 entries", gptLayout{numEntries: 256, entries: entries}},
		{"empty", gptLayout{numEntries: 128}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := gptImage(t, 32)
			l := tc.layout
			l.sectorSize, l.diskSectors = 512, 32<<20/512
			if err := writeGPT(img, l); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("sgdisk", "--verify", img).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "No problems found") {
				t.Fatalf("sgdisk --verify: %v\n%s", err, out)
			}
			tb, err := readGPT(img)
			if err != nil || !tb.found || !tb.pureProtective {
				t.Fatalf("readGPT: found %v, protective %v, err %v", tb.found, tb.pureProtective, err)
			}
			wantFirst := cmpOr(l.firstUsable, 2+l.arraySectors())
			if tb.firstUsable != wantFirst || tb.lastUsable != l.lastUsable() || tb.numEntries != l.numEntries {
				t.Errorf("geometry %d-%d, %d entries; want %d-%d, %d", tb.firstUsable, tb.lastUsable, tb.numEntries, wantFirst, l.lastUsable(), l.numEntries)
			}
			if l.diskGUID != "" && tb.diskGUID != l.diskGUID {
				t.Errorf("disk GUID %s, want %s", tb.diskGUID, l.diskGUID)
			}
			if len(tb.entries) != len(l.entries) {
				t.Fatalf("%d entries, want %d", len(tb.entries), len(l.entries))
			}
			for i, want := range l.entries {
				got := tb.entries[i]
				if want.guid == "" {
					want.guid = got.guid // random
					if got.guid == "" || got.guid[14] != '4' {
						t.Errorf("partition %d: GUID %q is not a random (v4) one", want.number, got.guid)
					}
				}
				if got != want {
					t.Errorf("entry\n got %+v\nwant %+v", got, want)
				}
				// And as sgdisk reads it.
				info, _ := exec.Command("sgdisk", "--info="+itoa(want.number), img).CombinedOutput()
				for _, s := range []string{"Partition GUID code: " + want.typeGUID, "Partition unique GUID: " + want.guid,
					"First sector: " + u64toa(want.start) + " ", "Last sector: " + u64toa(want.end) + " ", "Partition name: '" + want.name + "'"} {
					if !strings.Contains(string(info), s) {
						t.Errorf("sgdisk --info=%d lacks %q:\n%s", want.number, s, info)
					}
				}
			}
		})
	}
}

func cmpOr(a, b uint64) uint64 {
	if a != 0 {
		return a
	}
	return b
}

// TestWriteGPTKeepsBootCode: a protective MBR that is kept keeps its boot
// code, and its 0xEE entry is made to cover a disk that grew.
func TestWriteGPTKeepsBootCode(t *testing.T) {
	gptNeed(t, "sgdisk")
	img := gptImage(t, 16, "-n", "1:0:+4M")
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xeb, 0x63, 0x90}, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	tb, err := readGPT(img)
	if err != nil || !tb.canRewrite() {
		t.Fatalf("readGPT: %v, canRewrite %v", err, tb.canRewrite())
	}
	l := gptLayout{sectorSize: 512, diskSectors: 32 << 20 / 512, numEntries: tb.numEntries, firstUsable: tb.firstUsable,
		diskGUID: tb.diskGUID, entries: tb.entries, mbr: tb.mbrBytes}
	if err := writeGPT(img, l); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0xeb || b[1] != 0x63 {
		t.Error("the boot code is gone")
	}
	if size := uint32(b[446+12]) | uint32(b[446+13])<<8 | uint32(b[446+14])<<16 | uint32(b[446+15])<<24; size != 32<<20/512-1 {
		t.Errorf("the 0xEE entry covers %d sectors", size)
	}
	out, err := exec.Command("sgdisk", "--verify", img).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No problems found") {
		t.Fatalf("sgdisk --verify: %v\n%s", err, out)
	}
}

// TestWriteGPTRefuses: what cannot be written is refused before anything
// is written.
func TestWriteGPTRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    gptLayout
		err  string
	}{
		{"outside", gptLayout{numEntries: 128, entries: []gptEntry{{number: 1, start: 10, end: 100, typeGUID: linuxFilesystemType}}}, "outside the usable"},
		{"past the end", gptLayout{numEntries: 128, entries: []gptEntry{{number: 1, start: 2048, end: 1 << 20, typeGUID: linuxFilesystemType}}}, "outside the usable"},
		{"number", gptLayout{numEntries: 128, entries: []gptEntry{{number: 129, start: 2048, end: 4095, typeGUID: linuxFilesystemType}}}, "the table has 128 entries"},
		{"name", gptLayout{numEntries: 128, entries: []gptEntry{{number: 1, start: 2048, end: 4095, typeGUID: linuxFilesystemType, name: strings.Repeat("y", 37)}}}, "longer than 36"},
		{"type", gptLayout{numEntries: 128, entries: []gptEntry{{number: 1, start: 2048, end: 4095, typeGUID: "8300"}}}, "not a GUID"},
		{"tiny disk", gptLayout{numEntries: 128, diskSectors: 40}, "too small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := gptImage(t, 16)
			before := partsHash(t, img)
			l := tc.l
			l.sectorSize = 512
			if l.diskSectors == 0 {
				l.diskSectors = 16 << 20 / 512
			}
			err := writeGPT(img, l)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if partsHash(t, img) != before {
				t.Error("the image changed")
			}
		})
	}
}

// TestWriteGPTRandom writes random tables (512- and 4096-byte sectors,
// entry arrays of 4 to 256 entries, any number, name and attribute) and
// reads each back: our reader must see exactly what was written.
func TestWriteGPTRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	img := gptImage(t, 8)
	for round := range 300 {
		ss := []uint64{512, 4096}[rng.IntN(2)]
		l := gptLayout{sectorSize: ss, diskSectors: 8 << 20 / ss, numEntries: uint32(4 + rng.IntN(253))}
		first := 2 + l.arraySectors()
		free := l.lastUsable() - first + 1
		// Disjoint extents in random slots.
		numbers := rng.Perm(int(l.numEntries))[:1+rng.IntN(min(8, int(l.numEntries)))]
		next := first
		for _, n := range numbers {
			size := 1 + rng.Uint64N(free/16)
			if next+size-1 > l.lastUsable() {
				break
			}
			name := []rune{}
			for range rng.IntN(37) {
				name = append(name, rune(0x20+rng.IntN(0x2000)))
			}
			e := gptEntry{number: n + 1, start: next, end: next + size - 1, typeGUID: randomGUID(),
				guid: randomGUID(), attrs: rng.Uint64(), name: string(name)}
			l.entries = append(l.entries, e)
			next += size + rng.Uint64N(64)
		}
		slices.SortFunc(l.entries, func(a, b gptEntry) int { return a.number - b.number })
		if err := writeGPT(img, l); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		tb, err := readGPT(img)
		if err != nil || !tb.found || tb.sectorSize != ss {
			t.Fatalf("round %d: found %v, sector %d, err %v", round, tb.found, tb.sectorSize, err)
		}
		if !slices.Equal(tb.entries, l.entries) || tb.numEntries != l.numEntries || tb.firstUsable != first || tb.lastUsable != l.lastUsable() {
			t.Fatalf("round %d: read back\n%+v\nwrote\n%+v", round, tb.entries, l.entries)
		}
		// Start clean for the next round (a 4096-byte table leaves its
		// header where a 512-byte reader does not look, and back).
		if err := zapGPT(img, tb); err != nil {
			t.Fatal(err)
		}
	}
}
