package disks

// A small reader of GUID Partition Tables (UEFI spec, chapter 5). The
// disks stage plans against what is on the disk before it changes
// anything, and checks afterwards that the table written is the one
// planned; both need the table as data, not as sgdisk's human output.
// zapGPT erases tables; gptwrite.go writes them.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"unicode/utf16"

	"golang.org/x/sys/unix"
)

const (
	gptSignature     = "EFI PART"
	gptMinHeaderSize = 92
	gptMinEntrySize  = 128
	// gptMaxArray bounds the entry array read from a header that may be
	// garbage; the usual array is 16 KiB (128 entries of 128 bytes).
	gptMaxArray = 4 << 20
	// gptNameOffset and gptNameSize place the UTF-16LE name in an entry.
	gptNameOffset = 56
	gptNameSize   = 72
)

// mbrKind is what sector 0 holds.
type mbrKind int

const (
	mbrNone       mbrKind = iota // no boot signature: a blank or unknown disk
	mbrProtective                // a GPT's protective MBR (a type 0xEE entry)
	mbrDOS                       // a DOS partition table
)

func (k mbrKind) String() string {
	switch k {
	case mbrProtective:
		return "protective MBR"
	case mbrDOS:
		return "DOS (MBR) partition table"
	}
	return "no MBR"
}

// gptEntry is one used entry of a partition table.
type gptEntry struct {
	number   int    // 1-based index in the entry array
	start    uint64 // first LBA
	end      uint64 // last LBA, inclusive
	typeGUID string // upper case, e.g. 0FC63DAF-8483-4772-8E79-3D69D8477DE4
	guid     string // the partition's unique GUID, upper case
	attrs    uint64 // attribute bits
	name     string // the partition label
}

// sectors is the entry's size in logical sectors.
func (e gptEntry) sectors() uint64 { return e.end - e.start + 1 }

// gptTable is what readGPT found on a disk.
type gptTable struct {
	sectorSize  uint64 // logical sector size in bytes
	diskSectors uint64 // size of the disk in logical sectors
	mbr         mbrKind
	found       bool // a valid primary GPT header is at LBA 1
	diskGUID    string
	firstUsable uint64
	lastUsable  uint64
	numEntries  uint32     // slots in the entry array
	entries     []gptEntry // used entries, by number
	arrayBytes  uint64     // size of the entry array
	arrayLBA    uint64     // where the primary header says the entry array is
	entrySize   uint32     // bytes per entry
	backupLBA   uint64     // where the primary header says the backup header is
	// pureProtective: sector 0 is a protective MBR whose only entry is
	// the 0xEE one (not a hybrid MBR), which writeGPT may rewrite;
	// mbrBytes is that sector's first 512 bytes.
	pureProtective bool
	mbrBytes       []byte
}

// entry returns partition number n, if the table has it.
func (t *gptTable) entry(n int) (gptEntry, bool) {
	for _, e := range t.entries {
		if e.number == n {
			return e, true
		}
	}
	return gptEntry{}, false
}

// readGPT reads the primary GPT of path, a block device or an image file.
// A disk without a GPT header is not an error: found is false and mbr
// says what sector 0 holds. A header or entry array that fails its
// checksum is an error, as is a header that makes no sense; then the
// table is still returned, with found false, for its geometry (sector
// size, disk size), which is all a caller wiping the table needs. Only
// when the disk cannot be read at all is the table nil.
func readGPT(path string) (*gptTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("size of %s: %w", path, err)
	}
	// A block device knows its logical sector size. An image file does
	// not: look for the header where 512- and 4096-byte sectors put it.
	candidates := []uint64{512, 4096}
	known, err := blockSectorSize(f)
	if err != nil {
		return nil, fmt.Errorf("sector size of %s: %w", path, err)
	}
	if known != 0 {
		candidates = []uint64{known}
	}
	t := &gptTable{sectorSize: candidates[0]}
	mbr, err := readBytes(f, 0, 512, size)
	if err != nil {
		return nil, fmt.Errorf("reading the MBR of %s: %w", path, err)
	}
	t.mbr = mbrKindOf(mbr)
	t.pureProtective, t.mbrBytes = pureProtective(mbr), mbr
	for _, ss := range candidates {
		hdr, err := readBytes(f, int64(ss), int64(ss), size)
		if errors.Is(err, errPastEnd) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the GPT header of %s: %w", path, err)
		}
		if string(hdr[:8]) != gptSignature {
			continue
		}
		t.sectorSize = ss
		t.diskSectors = uint64(size) / ss
		if err := t.parse(f, hdr, size); err != nil {
			// Keep the geometry, drop what the bad table said.
			return &gptTable{sectorSize: ss, diskSectors: t.diskSectors, mbr: t.mbr}, fmt.Errorf("%s: %w", path, err)
		}
		t.found = true
		return t, nil
	}
	t.diskSectors = uint64(size) / t.sectorSize
	return t, nil
}

// parse fills t from the primary header hdr (one sector) and the entry
// array it points to.
func (t *gptTable) parse(f *os.File, hdr []byte, diskSize int64) error {
	le := binary.LittleEndian
	hsize := le.Uint32(hdr[12:16])
	if hsize < gptMinHeaderSize || uint64(hsize) > t.sectorSize {
		return fmt.Errorf("GPT header size %d is invalid", hsize)
	}
	h := bytes.Clone(hdr[:hsize])
	want := le.Uint32(h[16:20])
	clear(h[16:20]) // the checksum covers the header with this field zeroed
	if got := crc32.ChecksumIEEE(h); got != want {
		return fmt.Errorf("primary GPT header checksum is %08x, the header says %08x: the table is corrupt", got, want)
	}
	if my := le.Uint64(h[24:32]); my != 1 {
		return fmt.Errorf("primary GPT header says it is at LBA %d, not 1", my)
	}
	t.backupLBA = le.Uint64(h[32:40])
	t.firstUsable = le.Uint64(h[40:48])
	t.lastUsable = le.Uint64(h[48:56])
	t.diskGUID = guidString(h[56:72])
	arrayLBA := le.Uint64(h[72:80])
	t.numEntries = le.Uint32(h[80:84])
	entrySize := le.Uint32(h[84:88])
	t.arrayLBA, t.entrySize = arrayLBA, entrySize
	arrayCRC := le.Uint32(h[88:92])
	if entrySize < gptMinEntrySize || entrySize%8 != 0 {
		return fmt.Errorf("GPT entry size %d is invalid", entrySize)
	}
	arraySize := uint64(t.numEntries) * uint64(entrySize)
	if arraySize > gptMaxArray {
		return fmt.Errorf("GPT entry array of %d entries of %d bytes is too large", t.numEntries, entrySize)
	}
	t.arrayBytes = arraySize
	if t.firstUsable > t.lastUsable {
		return fmt.Errorf("GPT usable sectors %d-%d are empty", t.firstUsable, t.lastUsable)
	}
	array, err := readBytes(f, int64(arrayLBA*t.sectorSize), int64(arraySize), diskSize)
	if err != nil {
		return fmt.Errorf("reading the GPT entries at LBA %d: %w", arrayLBA, err)
	}
	if got := crc32.ChecksumIEEE(array); got != arrayCRC {
		return fmt.Errorf("GPT entry array checksum is %08x, the header says %08x: the table is corrupt", got, arrayCRC)
	}
	for i := range t.numEntries {
		b := array[uint64(i)*uint64(entrySize):][:entrySize]
		if allZero(b[0:16]) { // an unused entry has the nil type GUID
			continue
		}
		e := gptEntry{
			number:   int(i) + 1,
			typeGUID: guidString(b[0:16]),
			guid:     guidString(b[16:32]),
			start:    le.Uint64(b[32:40]),
			end:      le.Uint64(b[40:48]),
			attrs:    le.Uint64(b[48:56]),
			name:     utf16Name(b[gptNameOffset : gptNameOffset+gptNameSize]),
		}
		if e.end < e.start {
			return fmt.Errorf("GPT entry %d ends (LBA %d) before it starts (LBA %d)", e.number, e.end, e.start)
		}
		t.entries = append(t.entries, e)
	}
	return nil
}

// gptDefaultArray is the entry array of a table sgdisk makes (128 entries
// of 128 bytes), erased even where no table was found.
const gptDefaultArray = 128 * 128

// zapGPT erases the partition tables on path as sgdisk --zap-all does:
// sector 0 (a DOS MBR, or the protective MBR with any boot code), the
// primary GPT header and entry array, the backup array and header at the
// end of the disk, and the backup where the old header placed it when that
// is elsewhere (an image written to a larger disk). sgdisk pauses a second
// after each write it makes; these plain writes do not, which takes a
// second off every disk whose table is wiped.
func zapGPT(path string, t *gptTable) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	size := int64(t.diskSectors * t.sectorSize)
	ss := int64(t.sectorSize)
	array := int64(max(t.arrayBytes, gptDefaultArray))
	// Whole sectors, rounded up.
	array = (array + ss - 1) / ss * ss
	regions := [][2]int64{
		{0, 2*ss + array},         // MBR, primary header, primary array
		{size - array - ss, size}, // backup array, backup header
	}
	if b := int64(t.backupLBA); b > 1 && b < int64(t.diskSectors)-1 {
		regions = append(regions, [2]int64{b*ss - array, (b + 1) * ss})
	}
	for _, r := range regions {
		from, to := max(r[0], 0), min(r[1], size)
		if from >= to {
			continue
		}
		if _, err := f.WriteAt(make([]byte, to-from), from); err != nil {
			return fmt.Errorf("erasing bytes %d-%d: %w", from, to, err)
		}
	}
	return f.Sync()
}

// errPastEnd says a read would go past the end of the disk.
var errPastEnd = errors.New("past the end of the disk")

// readBytes reads n bytes at off, failing with errPastEnd when the disk
// (size bytes) is too small.
func readBytes(f *os.File, off, n, size int64) ([]byte, error) {
	if off < 0 || n < 0 || off+n > size {
		return nil, errPastEnd
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		return nil, err
	}
	return b, nil
}

// blockSectorSize returns the logical sector size of a block device, or 0
// for anything else.
func blockSectorSize(f *os.File) (uint64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		return 0, nil
	}
	n, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET)
	if err != nil {
		return 0, fmt.Errorf("BLKSSZGET: %w", err)
	}
	if n < 512 || n&(n-1) != 0 {
		return 0, fmt.Errorf("BLKSSZGET says %d bytes", n)
	}
	return uint64(n), nil
}

// mbrKindOf classifies sector 0.
func mbrKindOf(b []byte) mbrKind {
	if b[510] != 0x55 || b[511] != 0xAA {
		return mbrNone
	}
	used := false
	for i := range 4 {
		typ := b[446+16*i+4]
		if typ == 0xEE {
			return mbrProtective
		}
		used = used || typ != 0
	}
	// A boot sector (say, a FAT filesystem's) also ends in 55 AA; without
	// any partition entry it is not a partition table.
	if !used {
		return mbrNone
	}
	return mbrDOS
}

// pureProtective reports whether sector 0 is a protective MBR with the
// 0xEE entry alone.
func pureProtective(b []byte) bool {
	if mbrKindOf(b) != mbrProtective {
		return false
	}
	for i := range 4 {
		if typ := b[446+16*i+4]; typ != 0 && typ != 0xEE {
			return false
		}
	}
	return true
}

// guidString formats a GUID stored in the GPT's mixed-endian layout: the
// first three fields are little-endian, the last two are bytes.
func guidString(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", le.Uint32(b[0:4]), le.Uint16(b[4:6]), le.Uint16(b[6:8]), b[8:10], b[10:16])
}

// utf16Name decodes a NUL-terminated (or full) UTF-16LE name.
func utf16Name(b []byte) string {
	units := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u := binary.LittleEndian.Uint16(b[i:])
		if u == 0 {
			break
		}
		units = append(units, u)
	}
	return string(utf16.Decode(units))
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
