package vm

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDisksVFAT: an EFI system partition beside the root, formatted vfat
// by the disks stage, mounted at /boot/efi by the mount stage and written
// by the files stage: what the host kernel, without vfat, cannot do.
func TestDisksVFAT(t *testing.T) {
	ignitionBinary(t) // skips under -short; builds once
	const content = "written to the ESP by the files stage\n"
	p := &provision{
		rootParts: []obj{{"label": "esp", "number": 2, "sizeMiB": 32,
			"typeGuid": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"}},
		machine: Machine{Modules: []string{"vfat", "nls_cp437", "nls_ascii", "nls_utf8"}},
		storage: storage{
			Filesystems: []obj{{"device": "/dev/disk/by-partlabel/esp", "format": "vfat", "label": "EFI",
				"path": "/boot/efi", "wipeFilesystem": true}},
			Files: []obj{{"path": "/boot/efi/EFI/vmtest/hello.txt", "contents": obj{"source": dataURL(content)}}},
		},
		check: `
			[ "$(blkid -c /dev/null -s TYPE -o value /dev/vda2)" = vfat ]
			[ "$(blkid -c /dev/null -s LABEL -o value /dev/vda2)" = EFI ]
			grep -q 'mounting "/dev/disk/by-partlabel/esp (/dev/vda2)" at "/sysroot/boot/efi"' /tmp/ignition.log
			! grep -q ' /sysroot/boot/efi ' /proc/mounts
			[ -d /sysroot/boot/efi ]
			mkdir -p /mnt/esp
			mount -t vfat -o ro /dev/vda2 /mnt/esp
			[ "$(cat /mnt/esp/EFI/vmtest/hello.txt)" = "written to the ESP by the files stage" ]
			umount /mnt/esp
		`,
	}
	res := p.run(t)
	checkRoot(t, res)
	img := res.Disks[0]
	off, size := partition(t, img, 2)
	if tags := probe(t, img, off); tags["TYPE"] != "vfat" || tags["LABEL"] != "EFI" {
		t.Errorf("partition 2 holds %v, want vfat labelled EFI", tags)
	}
	// No mtools on the host: fsck.vfat lists the files of a copy of the
	// partition, and the file's data is looked for in its clusters.
	part := filepath.Join(t.TempDir(), "esp.img")
	copyRange(t, img, part, off, size)
	list := hostOutput(t, "fsck.vfat", "-n", "-l", part)
	if !strings.Contains(strings.ToLower(list), "/efi/vmtest/hello.txt") {
		t.Errorf("fsck.vfat lists no /EFI/vmtest/hello.txt on partition 2:\n%s", list)
	}
	data, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(content)) {
		t.Errorf("partition 2 does not hold the file's contents")
	}
}

// copyRange copies size bytes at off of src into a new file dst.
func copyRange(t *testing.T, src, dst string, off, size int64) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, io.NewSectionReader(in, off, size)); err != nil {
		t.Fatal(err)
	}
}
