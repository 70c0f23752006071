package disks

// Writing a GUID Partition Table. sgdisk --pretend still decides where
// every partition goes; the table that results is written here, because
// sgdisk pauses a second after each write it makes (to let the kernel
// settle before it asks for a reread), and a first boot that partitions
// disks pays that second per disk. A table this package cannot rewrite
// faithfully (a hybrid MBR, an entry array elsewhere than LBA 2, entries
// that are not 128 bytes) is still written by sgdisk.

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"strings"
	"unicode/utf16"
)

// gptEntrySize is the size of every entry this package writes.
const gptEntrySize = 128

// gptLayout is a table to write.
type gptLayout struct {
	sectorSize  uint64
	diskSectors uint64
	numEntries  uint32
	firstUsable uint64 // 0: right after the primary entry array
	diskGUID    string // "": a random one
	entries     []gptEntry
	// mbr is the current sector 0 (its first 512 bytes) to keep, with its
	// 0xEE entry resized to the disk; nil writes a new protective MBR.
	mbr []byte
}

func (l *gptLayout) arraySectors() uint64 {
	return (uint64(l.numEntries)*gptEntrySize + l.sectorSize - 1) / l.sectorSize
}

// lastUsable is the last sector before the backup entry array, which sits
// right before the backup header in the disk's last sector.
func (l *gptLayout) lastUsable() uint64 { return l.diskSectors - 2 - l.arraySectors() }

// canRewrite reports whether t is a table writeGPT reproduces exactly but
// for the changes asked of it.
func (t *gptTable) canRewrite() bool {
	return t.found && t.pureProtective && t.arrayLBA == 2 && t.entrySize == gptEntrySize
}

// writeGPT writes l to path: sector 0, the primary header (LBA 1) and
// entry array (from LBA 2), the backup entry array and the backup header
// (the last sector). The backup goes first, so that a write cut short
// leaves a primary table that still checks out.
func writeGPT(path string, l gptLayout) error {
	ss := l.sectorSize
	arraySectors := l.arraySectors()
	if l.firstUsable == 0 {
		l.firstUsable = 2 + arraySectors
	}
	if l.diskSectors < 2*(2+arraySectors)+1 || l.firstUsable < 2+arraySectors || l.firstUsable > l.lastUsable() {
		return fmt.Errorf("a disk of %d sectors of %d bytes is too small for a partition table", l.diskSectors, ss)
	}
	diskGUID := l.diskGUID
	if diskGUID == "" {
		diskGUID = randomGUID()
	}
	array := make([]byte, uint64(l.numEntries)*gptEntrySize)
	for _, e := range l.entries {
		if e.number < 1 || e.number > int(l.numEntries) {
			return fmt.Errorf("partition %d: the table has %d entries", e.number, l.numEntries)
		}
		if e.start < l.firstUsable || e.end > l.lastUsable() || e.end < e.start {
			return fmt.Errorf("partition %d: sectors %d-%d are outside the usable %d-%d", e.number, e.start, e.end, l.firstUsable, l.lastUsable())
		}
		if err := encodeEntry(array[(e.number-1)*gptEntrySize:][:gptEntrySize], e); err != nil {
			return fmt.Errorf("partition %d: %w", e.number, err)
		}
	}
	arrayCRC := crc32.ChecksumIEEE(array)
	paddedArray := make([]byte, arraySectors*ss)
	copy(paddedArray, array)

	last := l.diskSectors - 1
	backupArrayLBA := last - arraySectors
	primary, err := encodeHeader(ss, 1, last, l.firstUsable, l.lastUsable(), diskGUID, 2, l.numEntries, arrayCRC)
	if err != nil {
		return err
	}
	backup, err := encodeHeader(ss, last, 1, l.firstUsable, l.lastUsable(), diskGUID, backupArrayLBA, l.numEntries, arrayCRC)
	if err != nil {
		return err
	}
	mbr := protectiveMBR(l.mbr, l.diskSectors)

	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, w := range []struct {
		lba  uint64
		data []byte
	}{
		{backupArrayLBA, paddedArray},
		{last, backup},
		{2, paddedArray},
		{1, primary},
		{0, mbr},
	} {
		if _, err := f.WriteAt(w.data, int64(w.lba*ss)); err != nil {
			return fmt.Errorf("writing LBA %d: %w", w.lba, err)
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// encodeHeader makes one GPT header sector.
func encodeHeader(ss, my, alternate, firstUsable, lastUsable uint64, diskGUID string, arrayLBA uint64, numEntries, arrayCRC uint32) ([]byte, error) {
	le := binary.LittleEndian
	h := make([]byte, ss)
	copy(h[0:8], gptSignature)
	le.PutUint32(h[8:12], 0x00010000) // revision 1.0
	le.PutUint32(h[12:16], gptMinHeaderSize)
	le.PutUint64(h[24:32], my)
	le.PutUint64(h[32:40], alternate)
	le.PutUint64(h[40:48], firstUsable)
	le.PutUint64(h[48:56], lastUsable)
	if err := putGUID(h[56:72], diskGUID); err != nil {
		return nil, fmt.Errorf("disk GUID: %w", err)
	}
	le.PutUint64(h[72:80], arrayLBA)
	le.PutUint32(h[80:84], numEntries)
	le.PutUint32(h[84:88], gptEntrySize)
	le.PutUint32(h[88:92], arrayCRC)
	le.PutUint32(h[16:20], crc32.ChecksumIEEE(h[:gptMinHeaderSize]))
	return h, nil
}

// encodeEntry fills one 128-byte entry; a partition GUID left empty is a
// new random one.
func encodeEntry(b []byte, e gptEntry) error {
	le := binary.LittleEndian
	if err := putGUID(b[0:16], e.typeGUID); err != nil {
		return fmt.Errorf("type GUID: %w", err)
	}
	guid := e.guid
	if guid == "" {
		guid = randomGUID()
	}
	if err := putGUID(b[16:32], guid); err != nil {
		return fmt.Errorf("GUID: %w", err)
	}
	le.PutUint64(b[32:40], e.start)
	le.PutUint64(b[40:48], e.end)
	le.PutUint64(b[48:56], e.attrs)
	units := utf16.Encode([]rune(e.name))
	if len(units) > gptNameSize/2 {
		return fmt.Errorf("name %q is longer than %d UTF-16 units", e.name, gptNameSize/2)
	}
	for i, u := range units {
		le.PutUint16(b[gptNameOffset+2*i:], u)
	}
	return nil
}

// putGUID stores a GUID in the GPT's mixed-endian layout, the inverse of
// guidString.
func putGUID(b []byte, s string) error {
	parts := strings.Split(s, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 || len(parts[3]) != 4 || len(parts[4]) != 12 {
		return fmt.Errorf("%q is not a GUID", s)
	}
	raw, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		return fmt.Errorf("%q is not a GUID", s)
	}
	// The first three fields are little-endian on disk.
	b[0], b[1], b[2], b[3] = raw[3], raw[2], raw[1], raw[0]
	b[4], b[5] = raw[5], raw[4]
	b[6], b[7] = raw[7], raw[6]
	copy(b[8:16], raw[8:16])
	return nil
}

// randomGUID is a version 4 (random) GUID in upper case.
func randomGUID() string {
	var b [16]byte
	rand.Read(b[:])         // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	s := strings.ToUpper(hex.EncodeToString(b[:]))
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// protectiveMBR is sector 0's first 512 bytes for a GPT disk: keep (a pure
// protective MBR, boot code and all) with its 0xEE entry covering the
// disk, or a new one when keep is nil.
func protectiveMBR(keep []byte, diskSectors uint64) []byte {
	le := binary.LittleEndian
	size := min(diskSectors-1, 0xFFFFFFFF)
	m := make([]byte, 512)
	if keep != nil {
		copy(m, keep)
		for i := range 4 {
			if e := m[446+16*i:][:16]; e[4] == 0xEE {
				le.PutUint32(e[8:12], 1)
				le.PutUint32(e[12:16], uint32(size))
			}
		}
		return m
	}
	e := m[446:][:16]
	e[1], e[2], e[3] = 0x00, 0x02, 0x00 // CHS of LBA 1
	e[4] = 0xEE
	e[5], e[6], e[7] = 0xFF, 0xFF, 0xFF // CHS beyond what CHS can say
	le.PutUint32(e[8:12], 1)
	le.PutUint32(e[12:16], uint32(size))
	m[510], m[511] = 0x55, 0xAA
	return m
}
