package vm

// Booting the uncompressed kernel. A bzImage decompresses itself before it
// starts, and under TCG that takes about as long as the rest of the boot
// (2.4 s of 4.5 s for Debian's xz-compressed 6.1 kernel). When the kernel
// supports PVH boot (CONFIG_PVH, an ELF note QEMU looks for), QEMU can load
// the uncompressed ELF vmlinux directly instead; the host decompresses it
// once per test binary, in well under a second.

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
)

type pvhEntry struct {
	once sync.Once
	f    *os.File
	err  error
}

var pvhKernels sync.Map // bzImage path -> *pvhEntry

// pvhKernel returns an open, already unlinked file holding the vmlinux
// inside bzImage, or why the bzImage has to be booted as it is. The file
// lives as long as the test binary: the kernel frees it when the process
// exits, so nothing is left behind. QEMU opens it as /proc/self/fd/N.
func pvhKernel(bzImage string) (*os.File, error) {
	e, _ := pvhKernels.LoadOrStore(bzImage, &pvhEntry{})
	entry := e.(*pvhEntry)
	entry.once.Do(func() { entry.f, entry.err = extractVmlinux(bzImage) })
	return entry.f, entry.err
}

func extractVmlinux(bzImage string) (*os.File, error) {
	img, err := os.ReadFile(bzImage)
	if err != nil {
		return nil, err
	}
	payload, size, err := bzPayload(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bzImage, err)
	}
	f, err := os.CreateTemp("", "vmlinux")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	if err := decompress(f, payload); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: decompressing the kernel: %w", bzImage, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() != int64(size) {
		err = fmt.Errorf("decompressed %d bytes, the image says %d", fi.Size(), size)
	}
	if err == nil {
		err = checkPVH(f)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", bzImage, err)
	}
	return f, nil
}

// bzPayload finds the compressed kernel in a bzImage through its boot
// protocol header (Documentation/arch/x86/boot.rst): the payload offset
// and length, from the start of the protected-mode code, which follows
// setup_sects 512-byte sectors of setup. The build appends the
// uncompressed size to every payload as a 32-bit little-endian number.
func bzPayload(img []byte) (payload []byte, size uint32, err error) {
	if len(img) < 0x250 || string(img[0x202:0x206]) != "HdrS" {
		return nil, 0, errors.New("not a bzImage (no HdrS header)")
	}
	if v := binary.LittleEndian.Uint16(img[0x206:]); v < 0x208 {
		return nil, 0, fmt.Errorf("boot protocol %#x has no payload fields", v)
	}
	setupSects := int(img[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	start := (setupSects + 1) * 512
	off := int(binary.LittleEndian.Uint32(img[0x248:]))
	n := int(binary.LittleEndian.Uint32(img[0x24c:]))
	if n < 4 || start+off+n > len(img) {
		return nil, 0, errors.New("payload out of bounds")
	}
	p := img[start+off : start+off+n]
	return p[:n-4], binary.LittleEndian.Uint32(p[n-4:]), nil
}

// decompress writes the uncompressed payload to w: gzip in Go, xz and zstd
// with the host's xz and zstd.
func decompress(w io.Writer, payload []byte) error {
	switch {
	case bytes.HasPrefix(payload, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(payload))
		if err != nil {
			return err
		}
		_, err = io.Copy(w, zr)
		return err
	case bytes.HasPrefix(payload, []byte("\xfd7zXZ\x00")):
		return filter(w, payload, "xz", "-dc")
	case bytes.HasPrefix(payload, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return filter(w, payload, "zstd", "-dcq")
	default:
		return fmt.Errorf("compression with magic % x is not supported", payload[:min(len(payload), 6)])
	}
}

func filter(w io.Writer, in []byte, name string, args ...string) error {
	bin, err := exec.LookPath(name)
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), w, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// checkPVH looks for the Xen PHYS32_ENTRY note that PVH boot needs.
func checkPVH(r io.ReaderAt) error {
	f, err := elf.NewFile(r)
	if err != nil {
		return fmt.Errorf("the decompressed kernel is not ELF: %w", err)
	}
	const physEntry = 18 // XEN_ELFNOTE_PHYS32_ENTRY
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		notes, err := io.ReadAll(p.Open())
		if err != nil {
			return err
		}
		for len(notes) >= 12 {
			namesz := binary.LittleEndian.Uint32(notes[0:])
			descsz := binary.LittleEndian.Uint32(notes[4:])
			typ := binary.LittleEndian.Uint32(notes[8:])
			nameEnd := 12 + int(align4(namesz))
			next := nameEnd + int(align4(descsz))
			if next > len(notes) || nameEnd > len(notes) {
				break
			}
			if string(bytes.TrimRight(notes[12:12+namesz], "\x00")) == "Xen" && typ == physEntry {
				return nil
			}
			notes = notes[next:]
		}
	}
	return errors.New("the kernel has no PVH entry point (CONFIG_PVH)")
}

func align4(n uint32) uint32 { return (n + 3) &^ 3 }
