package vm

// The initramfs is built in memory as a tree of guest paths and written
// out once as an uncompressed "newc" cpio archive, the format the kernel
// unpacks into its rootfs. Uncompressed because under TCG the guest CPU
// is emulated and decompressing there costs more than reading a few more
// megabytes on the host.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// node is one archive entry.
type node struct {
	mode   fs.FileMode // type bits and permissions, Go style
	data   []byte      // contents of a regular file, when src is empty
	src    string      // host file to copy a regular file's contents from
	target string      // symlink target
	rdev   [2]uint32   // major and minor of a device node
}

// tree maps clean absolute guest paths to entries. Directories are entries
// too, so that parents can be written before their children.
type tree struct {
	nodes map[string]*node
}

func newTree() *tree {
	return &tree{nodes: map[string]*node{"/": {mode: fs.ModeDir | 0o755}}}
}

// resolve follows guest symlinks in the directory part of p, so that a file
// added at /bin/x lands at /usr/bin/x when /bin is a symlink to usr/bin.
// The final component is not followed: adding a file replaces a symlink.
func (t *tree) resolve(p string) (string, error) {
	p = path.Clean("/" + p)
	for hops := 0; ; hops++ {
		if hops > 40 {
			return "", fmt.Errorf("resolving %s in the initramfs: too many symlinks", p)
		}
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		changed := false
		for i := 0; i < len(parts)-1; i++ {
			prefix := "/" + strings.Join(parts[:i+1], "/")
			n, ok := t.nodes[prefix]
			if !ok || n.mode&fs.ModeSymlink == 0 {
				continue
			}
			target := n.target
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(prefix), target)
			}
			p = path.Join(append([]string{target}, parts[i+1:]...)...)
			changed = true
			break
		}
		if !changed {
			return p, nil
		}
	}
}

// mkdirAll creates dir and its missing parents (dir must already be resolved).
func (t *tree) mkdirAll(dir string) error {
	for d := dir; d != "/"; d = path.Dir(d) {
		if n, ok := t.nodes[d]; ok {
			if !n.mode.IsDir() {
				return fmt.Errorf("initramfs: %s is not a directory", d)
			}
			break
		}
		t.nodes[d] = &node{mode: fs.ModeDir | 0o755}
	}
	return nil
}

// put stores n at p (resolving p's directories first), creating parents.
// An existing entry at p is replaced, except that a directory stays a
// directory when asked to be one again.
func (t *tree) put(p string, n *node) (string, error) {
	rp, err := t.resolve(p)
	if err != nil {
		return "", err
	}
	if err := t.mkdirAll(path.Dir(rp)); err != nil {
		return "", err
	}
	if old, ok := t.nodes[rp]; ok && old.mode.IsDir() {
		if n.mode.IsDir() {
			return rp, nil
		}
		return "", fmt.Errorf("initramfs: cannot replace directory %s", rp)
	}
	t.nodes[rp] = n
	return rp, nil
}

func (t *tree) dir(p string) error {
	_, err := t.put(p, &node{mode: fs.ModeDir | 0o755})
	return err
}

func (t *tree) file(p string, data []byte, perm fs.FileMode) error {
	_, err := t.put(p, &node{mode: perm.Perm(), data: data})
	return err
}

func (t *tree) symlink(p, target string) error {
	_, err := t.put(p, &node{mode: fs.ModeSymlink | 0o777, target: target})
	return err
}

// has reports whether p exists in the tree (not following a final symlink).
func (t *tree) has(p string) bool {
	rp, err := t.resolve(p)
	if err != nil {
		return false
	}
	_, ok := t.nodes[rp]
	return ok
}

// writeCPIO writes the tree as a newc archive. Paths are written sorted,
// which puts every directory before what it contains.
func (t *tree) writeCPIO(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	paths := make([]string, 0, len(t.nodes))
	for p := range t.nodes {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	ino := uint32(1)
	for _, p := range paths {
		n := t.nodes[p]
		name := strings.TrimPrefix(p, "/")
		if name == "" {
			name = "."
		}
		if err := writeEntry(bw, ino, name, n); err != nil {
			return fmt.Errorf("initramfs: %s: %w", p, err)
		}
		ino++
	}
	if err := writeHeader(bw, 0, "TRAILER!!!", 0, 0, [2]uint32{}, 1); err != nil {
		return err
	}
	return bw.Flush()
}

func writeEntry(w *bufio.Writer, ino uint32, name string, n *node) error {
	var size int64
	var body io.Reader
	nlink := uint32(1)
	switch {
	case n.mode.IsDir():
		nlink = 2
	case n.mode&fs.ModeSymlink != 0:
		size = int64(len(n.target))
		body = strings.NewReader(n.target)
	case n.mode&fs.ModeDevice != 0:
	case n.src != "":
		f, err := os.Open(n.src)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		size = fi.Size()
		body = f
	default:
		size = int64(len(n.data))
		body = bytes.NewReader(n.data)
	}
	if size > 0xffffffff {
		return fmt.Errorf("%d bytes is too big for a newc entry", size)
	}
	if err := writeHeader(w, ino, name, unixMode(n.mode), uint32(size), n.rdev, nlink); err != nil {
		return err
	}
	if body != nil {
		// A host file that changes size while being copied would corrupt
		// the archive; copy exactly the size the header announced.
		if m, err := io.CopyN(w, body, size); err != nil {
			return fmt.Errorf("copied %d of %d bytes: %w", m, size, err)
		}
	}
	return pad4(w, size)
}

func writeHeader(w *bufio.Writer, ino uint32, name string, mode, size uint32, rdev [2]uint32, nlink uint32) error {
	// newc: magic and thirteen 8-digit hex fields, then the NUL-terminated
	// name padded so that the data starts on a 4-byte boundary.
	_, err := fmt.Fprintf(w, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], len(name)+1, 0)
	if err != nil {
		return err
	}
	if _, err := w.WriteString(name); err != nil {
		return err
	}
	if err := w.WriteByte(0); err != nil {
		return err
	}
	return pad4(w, int64(110+len(name)+1))
}

func pad4(w *bufio.Writer, n int64) error {
	if r := n % 4; r != 0 {
		_, err := w.Write(make([]byte, 4-r))
		return err
	}
	return nil
}

// unixMode converts Go's file mode to st_mode bits.
func unixMode(m fs.FileMode) uint32 {
	bits := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	switch {
	case m.IsDir():
		return bits | 0o040000
	case m&fs.ModeSymlink != 0:
		return bits | 0o120000
	case m&fs.ModeCharDevice != 0:
		return bits | 0o020000
	case m&fs.ModeDevice != 0:
		return bits | 0o060000
	default:
		return bits | 0o100000
	}
}
