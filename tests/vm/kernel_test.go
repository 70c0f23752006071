package vm

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBzImage builds the parts of a bzImage that bzPayload reads, around
// a gzip payload of content, claiming size bytes uncompressed.
func fakeBzImage(t *testing.T, content []byte, size uint32) string {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(content)
	zw.Close()
	payload := binary.LittleEndian.AppendUint32(z.Bytes(), size)
	img := make([]byte, 2*512+16) // setup_sects=1: protected mode code at 1024
	img[0x1f1] = 1
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x206:], 0x20f)
	binary.LittleEndian.PutUint32(img[0x248:], 16) // payload_offset
	binary.LittleEndian.PutUint32(img[0x24c:], uint32(len(payload)))
	img = append(img, payload...)
	p := filepath.Join(t.TempDir(), "bzImage")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExtractVmlinux(t *testing.T) {
	self, err := os.Executable() // an ELF file without a PVH note
	if err != nil {
		t.Fatal(err)
	}
	elfBytes, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content []byte
		size    uint32
		want    string
	}{
		{"not ELF", []byte("hello"), 5, "not ELF"},
		{"size mismatch", []byte("hello"), 6, "decompressed 5 bytes, the image says 6"},
		{"ELF without PVH", elfBytes, uint32(len(elfBytes)), "no PVH entry point"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := extractVmlinux(fakeBzImage(t, tc.content, tc.size))
			if err == nil {
				f.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}
	if _, err := extractVmlinux(self); err == nil || !strings.Contains(err.Error(), "not a bzImage") {
		t.Errorf("an ELF file as bzImage: error %v, want 'not a bzImage'", err)
	}
}

// TestPVHKernel unpacks the real kernel, when there is one, the way boot
// does: an ELF vmlinux with a PVH entry point, in an unlinked file.
func TestPVHKernel(t *testing.T) {
	kernel, _, err := findKernel()
	if err != nil {
		t.Skipf("no kernel: %v", err)
	}
	if f, err := os.Open(kernel); err != nil {
		t.Skipf("kernel not readable: %v", err)
	} else {
		f.Close()
	}
	f, err := pvhKernel(kernel)
	if err != nil {
		if strings.Contains(err.Error(), "executable file not found") {
			t.Skipf("decompressor missing: %v", err)
		}
		t.Fatal(err)
	}
	if again, _ := pvhKernel(kernel); again != f {
		t.Error("the second call unpacked the kernel again")
	}
	if _, err := os.Stat(f.Name()); err == nil {
		t.Errorf("%s is still linked: it would outlive the test binary", f.Name())
	}
	e, err := elf.NewFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if e.Machine != elf.EM_X86_64 {
		t.Errorf("machine %v", e.Machine)
	}
}
