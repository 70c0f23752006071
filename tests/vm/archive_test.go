package vm

import (
	"bytes"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// cpioEntry is what readNewc, an independent reader, finds in an archive.
type cpioEntry struct {
	name        string
	mode        uint32
	data        string
	rmaj, rmin  uint32
	nlink, size uint32
}

func readNewc(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	align := func(n int) int { return (n + 3) &^ 3 }
	for off := 0; ; {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc header at %d", off)
		}
		field := func(i int) uint32 {
			s := string(b[off+6+8*i : off+6+8*i+8])
			v, err := strconv.ParseUint(s, 16, 32)
			if err != nil {
				t.Fatalf("field %d %q at %d: %v", i, s, off, err)
			}
			return uint32(v)
		}
		mode, nlink, size, rmaj, rmin, namesize := field(1), field(4), field(6), field(9), field(10), field(11)
		name := string(b[off+110 : off+110+int(namesize)-1])
		if b[off+110+int(namesize)-1] != 0 {
			t.Fatalf("%s: name not NUL-terminated", name)
		}
		dataOff := align(off + 110 + int(namesize))
		if name == "TRAILER!!!" {
			return out
		}
		out = append(out, cpioEntry{name, mode, string(b[dataOff : dataOff+int(size)]), rmaj, rmin, nlink, size})
		off = align(dataOff + int(size))
	}
}

func TestCPIO(t *testing.T) {
	src := filepath.Join(t.TempDir(), "host-file")
	if err := os.WriteFile(src, []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := newTree()
	steps := []error{
		tr.symlink("/bin", "usr/bin"),
		tr.file("/bin/tool", []byte("#!/bin/sh\necho hi\n"), 0o755), // lands in /usr/bin
		tr.file("/etc/odd", []byte("12345"), 0o600),                 // 5 bytes: padding
		tr.putHost(src, 0o644),
		tr.symlink("/usr/bin/sh", "busybox"),
	}
	_, err := tr.put("/dev/console", &node{mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, rdev: [2]uint32{5, 1}})
	steps = append(steps, err)
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	var buf bytes.Buffer
	if err := tr.writeCPIO(&buf); err != nil {
		t.Fatal(err)
	}
	entries := readNewc(t, buf.Bytes())
	byName := map[string]cpioEntry{}
	index := map[string]int{}
	for i, e := range entries {
		byName[e.name] = e
		index[e.name] = i
	}
	for _, tc := range []struct {
		name string
		mode uint32
		data string
	}{
		{".", 0o040755, ""},
		{"bin", 0o120777, "usr/bin"},
		{"usr/bin/tool", 0o100755, "#!/bin/sh\necho hi\n"},
		{"usr/bin/sh", 0o120777, "busybox"},
		{"etc/odd", 0o100600, "12345"},
		{src[1:], 0o100644, "from the host\n"},
		{"dev/console", 0o020600, ""},
	} {
		e, ok := byName[tc.name]
		if !ok {
			t.Errorf("%s: missing from the archive", tc.name)
			continue
		}
		if e.mode != tc.mode || e.data != tc.data {
			t.Errorf("%s: mode %o data %q, want %o %q", tc.name, e.mode, e.data, tc.mode, tc.data)
		}
	}
	if c := byName["dev/console"]; c.rmaj != 5 || c.rmin != 1 {
		t.Errorf("dev/console: device %d:%d, want 5:1", c.rmaj, c.rmin)
	}
	if _, ok := byName["bin/tool"]; ok {
		t.Error("bin/tool was written under the bin symlink instead of usr/bin")
	}
	for name := range byName {
		if dir := filepath.Dir(name); dir != "." && index[dir] > index[name] {
			t.Errorf("%s comes before its directory %s", name, dir)
		}
	}
	if t.Failed() {
		t.Logf("archive:\n%s", hex.Dump(buf.Bytes()[:min(buf.Len(), 2048)]))
	}

	// Cross-check with GNU cpio: it must extract what we wrote. (Without
	// the device node: making one needs root.)
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Log("no cpio on the host; skipping the cross-check")
		return
	}
	delete(tr.nodes, "/dev/console")
	buf.Reset()
	if err := tr.writeCPIO(&buf); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	cmd := exec.Command(cpio, "-id", "--quiet")
	cmd.Dir, cmd.Stdin = dest, &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id: %v: %s", err, out)
	}
	if got, err := os.ReadFile(filepath.Join(dest, "bin/tool")); err != nil || string(got) != "#!/bin/sh\necho hi\n" {
		t.Errorf("extracted bin/tool (through the bin symlink): %q, %v", got, err)
	}
	if target, err := os.Readlink(filepath.Join(dest, "usr/bin/sh")); err != nil || target != "busybox" {
		t.Errorf("extracted usr/bin/sh: %q, %v", target, err)
	}
}

func TestTreeReplace(t *testing.T) {
	tr := newTree()
	if err := tr.symlink("/usr/sbin/mkfs.vfat", "/usr/bin/busybox"); err != nil {
		t.Fatal(err)
	}
	// A host tool replaces a busybox applet link...
	if err := tr.file("/usr/sbin/mkfs.vfat", []byte("real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if n := tr.nodes["/usr/sbin/mkfs.vfat"]; n.mode&fs.ModeSymlink != 0 || string(n.data) != "real" {
		t.Errorf("mkfs.vfat is %v %q, want the file", n.mode, n.data)
	}
	// ...but nothing replaces a directory.
	if err := tr.file("/usr/sbin", nil, 0o644); err == nil {
		t.Error("replaced the directory /usr/sbin with a file")
	}
	// Symlink loops end in an error, not a hang.
	if err := tr.symlink("/loop", "/loop"); err != nil {
		t.Fatal(err)
	}
	if err := tr.file("/loop/x", nil, 0o644); err == nil {
		t.Error("added a file under a symlink loop")
	}
}
