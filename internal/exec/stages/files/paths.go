package files

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/ignition-go/ignition/internal/resource"
)

// maxSymlinks bounds the symlinks followed resolving one path, as the
// kernel does (ELOOP).
const maxSymlinks = 40

var errEscapes = errors.New("a symlink leads out of the target root")

// node is a path in the target, resolved inside the root: Dir has no
// symlinks in it (each was followed), Base is not followed.
type node struct {
	Dir  string // relative to the root; "." is the root itself
	Base string
}

// Rel is the node's path relative to the root.
func (n node) Rel() string { return path.Join(n.Dir, n.Base) }

// resolve maps p, an absolute path in the target, to a node inside root.
// Symlinks in every directory component are followed, absolute ones from
// the top of the root; the last component is not followed. Components
// that do not exist yet are kept as they are (they will be created).
func resolve(root *os.Root, p string) (node, error) {
	clean := path.Clean("/" + p)
	if clean == "/" {
		return node{}, errors.New("the path is the root itself")
	}
	dir, err := resolveDir(root, path.Dir(clean))
	if err != nil {
		return node{}, err
	}
	return node{Dir: dir, Base: path.Base(clean)}, nil
}

// resolveDir resolves every component of dir (an absolute, clean path in
// the target), following symlinks.
func resolveDir(root *os.Root, dir string) (string, error) {
	todo := strings.Split(dir, "/")
	var done []string
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return "", errEscapes
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(append(done, c)...)
		fi, err := root.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			done = append(done, c)
			continue
		case err != nil:
			return "", err
		case fi.IsDir():
			done = append(done, c)
			continue
		case fi.Mode()&fs.ModeSymlink == 0:
			return "", fmt.Errorf("/%s is not a directory", cur)
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("too many levels of symbolic links resolving %s", dir)
		}
		target, err := root.Readlink(cur)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = done[:0] // absolute: from the top of the target
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// nearestDir returns dir or its deepest ancestor that exists (a resolved
// directory path as resolve returns). Temp files staged there are on the
// same filesystem as anything later created below it.
func nearestDir(root *os.Root, dir string) (string, error) {
	for {
		fi, err := root.Lstat(dir)
		if err == nil {
			if !fi.IsDir() {
				return "", fmt.Errorf("/%s is not a directory", dir)
			}
			return dir, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || dir == "." {
			return "", err
		}
		dir = path.Dir(dir)
	}
}

// mkdirs creates the missing directories of dir (resolved, so it has no
// symlinks) with mode 0755 and owner 0:0.
func (s *stage) mkdirs(dir string) error {
	if dir == "." {
		return nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		cur := path.Join(parts[:i+1]...)
		fi, err := s.root.Lstat(cur)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("/%s is not a directory", cur)
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := s.root.Mkdir(cur, 0o700); err != nil {
			return fmt.Errorf("creating directory /%s: %w", cur, err)
		}
		if err := s.setOwnerMode(cur, 0, 0, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// setOwnerMode sets the owner, then the mode (a chown clears setuid and
// setgid bits) of name, which is not a symlink. An id of -1 leaves it.
func (s *stage) setOwnerMode(name string, uid, gid int, mode os.FileMode) error {
	if err := s.own.Path(s.root, name, uid, gid); err != nil {
		return fmt.Errorf("setting owner of /%s: %w", name, err)
	}
	if err := s.root.Chmod(name, mode); err != nil {
		return fmt.Errorf("setting mode of /%s: %w", name, err)
	}
	s.relabel(name)
	return nil
}

// Owners changes the ownership of nodes in the target. An id of -1 leaves
// that id as it is.
type Owners interface {
	// File sets the owner of an open file (a temp file about to be
	// renamed into place).
	File(f *os.File, uid, gid int) error
	// Path sets the owner of name in root, not following a final symlink.
	Path(root *os.Root, name string, uid, gid int) error
}

// SystemOwners makes the chown system calls.
type SystemOwners struct{}

// File calls fchown.
func (SystemOwners) File(f *os.File, uid, gid int) error { return f.Chown(uid, gid) }

// Path calls lchown inside root.
func (SystemOwners) Path(root *os.Root, name string, uid, gid int) error {
	return root.Lchown(name, uid, gid)
}

// fileMode converts a config mode (Unix bits: 04000 setuid, 02000
// setgid, 01000 sticky, 0777 permissions) to an os.FileMode.
func fileMode(m int) os.FileMode {
	mode := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

// meta is the owner and mode a new file gets.
type meta struct {
	uid, gid int
	mode     os.FileMode
}

// tempName returns an unused name for a temp node in dir.
func tempName(root *os.Root, dir, base string) (string, error) {
	for range 100 {
		name := path.Join(dir, "."+base+".ignition-"+strconv.FormatUint(rand.Uint64(), 36))
		if _, err := root.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			return name, nil
		}
	}
	return "", errors.New("no free temp name")
}

// createTemp creates an empty temp file in dir.
func createTemp(root *os.Root, dir, base string) (*os.File, string, error) {
	for range 100 {
		name := path.Join(dir, "."+base+".ignition-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", errors.New("no free temp name")
}

// writeFile replaces n with a new regular file: fill writes it in a temp
// file beside n, which gets m's owner and mode, is synced and renamed over
// n. A directory at n must have been removed by the caller. On failure n
// is as it was and the temp file is gone.
func (s *stage) writeFile(n node, m meta, fill func(w io.Writer) error) error {
	f, tmp, err := createTemp(s.root, n.Dir, n.Base)
	if err != nil {
		return fmt.Errorf("creating temp file in /%s: %w", n.Dir, err)
	}
	if err := fill(f); err != nil {
		f.Close()
		s.root.Remove(tmp)
		return err
	}
	return s.commit(f, tmp, n, m)
}

// commit gives the open temp file f (named tmp in the root) m's owner and
// mode, syncs it and renames it over n. f is closed, and removed on error.
func (s *stage) commit(f *os.File, tmp string, n node, m meta) (err error) {
	defer func() {
		if err != nil {
			f.Close()
			s.root.Remove(tmp)
		}
	}()
	if err := s.own.File(f, m.uid, m.gid); err != nil {
		return fmt.Errorf("setting owner: %w", err)
	}
	if err := f.Chmod(m.mode); err != nil {
		return fmt.Errorf("setting mode: %w", err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := s.root.Rename(tmp, n.Rel()); err != nil {
		return err
	}
	s.relabel(n.Rel())
	return resource.SyncDir(s.root, n.Dir)
}

// copyFile appends the contents of name (in the root) to w.
func copyFile(root *os.Root, name string, w io.Writer) error {
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// kind describes a node type for messages.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m.IsRegular():
		return "a file"
	default:
		return "a special file"
	}
}

// existing returns the node at n, or nil when there is none.
func (s *stage) existing(n node) (fs.FileInfo, error) {
	fi, err := s.root.Lstat(n.Rel())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return fi, err
}

// lookup resolves p inside the root and returns what is there now (nil
// for nothing): the start of every node operation.
func (s *stage) lookup(p string) (node, fs.FileInfo, error) {
	n, err := resolve(s.root, p)
	if err != nil {
		return node{}, nil, err
	}
	fi, err := s.existing(n)
	return n, fi, err
}
