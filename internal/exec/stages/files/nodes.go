package files

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/resource"
)

// modeBits are the parts of an os.FileMode that chmod sets.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// staged holds the fetched resources of storage.files, in temp files
// inside the root (each in the deepest existing directory on the way to
// its file, so that the final rename never crosses filesystems).
type staged struct {
	files []stagedFile // by index in storage.files
	all   []string     // every temp file, for clean-up
}

type stagedFile struct {
	contents  string   // the fetched contents; "" for none or empty
	fragments []string // the fetched append fragments; "" for an empty one
}

// removeAll removes every temp file that was not renamed into place.
func (st *staged) removeAll(root *os.Root) {
	for _, name := range st.all {
		root.Remove(name)
	}
}

// fetchFiles fetches the contents and append fragments of every file
// concurrently. On error every temp file is removed and the error names
// each failed entry: "storage.files.3 (/etc/foo): fetching <url>: <why>".
func (s *stage) fetchFiles(files []types.File) (*staged, error) {
	st := &staged{files: make([]stagedFile, len(files))}
	var jobs []resource.Job
	names := map[string]string{} // job key → the file's path
	used := map[string]bool{}
	// Directories the config replaces are removed before the files are
	// placed: nothing may be staged in them.
	var replaced []string
	for i := range s.cfg.Storage.Directories {
		d := &s.cfg.Storage.Directories[i]
		if n, err := resolve(s.root, d.Path); err == nil && isTrue(d.Overwrite) {
			replaced = append(replaced, n.Rel())
		}
	}
	for i := range files {
		f := &files[i]
		entry := fmt.Sprintf("storage.files.%d", i)
		if deref(f.Contents.Source) == "" && !anySource(f.Append) {
			continue
		}
		n, err := resolve(s.root, f.Path)
		if err != nil {
			return st, entryErr(entry, f.Path, err)
		}
		dir, err := nearestDir(s.root, n.Dir)
		if err != nil {
			return st, entryErr(entry, f.Path, err)
		}
		dir = outside(dir, replaced)
		add := func(r types.Resource, key string) (string, error) {
			if deref(r.Source) == "" {
				return "", nil // no contents, or empty ones
			}
			var dest string
			for dest == "" || used[dest] {
				if dest, err = tempName(s.root, dir, n.Base); err != nil {
					return "", entryErr(key, f.Path, err)
				}
			}
			used[dest] = true
			st.all = append(st.all, dest)
			names[key] = f.Path
			jobs = append(jobs, resource.Job{
				Request:     resource.FromResource(r, key),
				Dest:        dest,
				FileOptions: resource.FileOptions{Root: s.root, Mode: 0o600},
			})
			return dest, nil
		}
		if st.files[i].contents, err = add(f.Contents, entry); err != nil {
			return st, err
		}
		for j := range f.Append {
			frag, err := add(f.Append[j], fmt.Sprintf("%s.append.%d", entry, j))
			if err != nil {
				return st, err
			}
			st.files[i].fragments = append(st.files[i].fragments, frag)
		}
	}
	if len(jobs) == 0 {
		return st, nil
	}
	if s.fetch == nil {
		return st, errors.New("files: no fetcher for the contents of storage.files")
	}
	noun := "resources"
	if len(jobs) == 1 {
		noun = "resource"
	}
	err := s.log.LogOp(func() error { return s.fetch.FetchAll(s.ctx, jobs) },
		"fetching %d %s for storage.files", len(jobs), noun)
	if err == nil {
		return st, nil
	}
	// Put each failure under its entry and file.
	var errs []error
	for _, e := range unjoin(err) {
		var re *resource.Error
		if errors.As(e, &re) {
			if p, ok := names[re.Path]; ok {
				errs = append(errs, entryErr(re.Path, p, &resource.Error{URL: re.URL, Err: re.Err}))
				continue
			}
		}
		errs = append(errs, e)
	}
	return st, errors.Join(errs...)
}

// outside returns dir, or the parent of the outermost of dirs that
// holds it.
func outside(dir string, dirs []string) string {
	for moved := true; moved; {
		moved = false
		for _, d := range dirs {
			if dir == d || strings.HasPrefix(dir, d+"/") {
				dir, moved = path.Dir(d), true
			}
		}
	}
	return dir
}

func anySource(rs []types.Resource) bool {
	for _, r := range rs {
		if deref(r.Source) != "" {
			return true
		}
	}
	return false
}

// unjoin splits an errors.Join.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// directories creates storage.directories in config order.
func (s *stage) directories() error {
	for i := range s.cfg.Storage.Directories {
		d := &s.cfg.Storage.Directories[i]
		err := s.log.LogOp(func() error { return s.directory(d) }, "creating directory %q", d.Path)
		if err != nil {
			return entryErr(fmt.Sprintf("storage.directories.%d", i), d.Path, err)
		}
	}
	return nil
}

func (s *stage) directory(d *types.Directory) error {
	n, fi, err := s.lookup(d.Path)
	if err != nil {
		return err
	}
	if fi != nil && !isTrue(d.Overwrite) {
		if !fi.IsDir() {
			return inTheWay(fi)
		}
		// Only set what the config gives.
		uid, gid, err := s.owner(&d.Node, -1, -1)
		if err != nil {
			return err
		}
		if uid == -1 && gid == -1 && d.Mode == nil {
			return nil
		}
		mode := fi.Mode() & modeBits
		if d.Mode != nil {
			mode = fileMode(*d.Mode)
		}
		return s.setOwnerMode(n.Rel(), uid, gid, mode)
	}
	uid, gid, err := s.owner(&d.Node, 0, 0)
	if err != nil {
		return err
	}
	mode := fileMode(0o755)
	if d.Mode != nil {
		mode = fileMode(*d.Mode)
	}
	if err := s.mkdirs(n.Dir); err != nil {
		return err
	}
	if fi != nil {
		if err := s.root.RemoveAll(n.Rel()); err != nil {
			return fmt.Errorf("removing what is in the way: %w", err)
		}
	}
	if err := s.root.Mkdir(n.Rel(), 0o700); err != nil {
		return err
	}
	return s.setOwnerMode(n.Rel(), uid, gid, mode)
}

// inTheWay is the error for a node that is where another should go.
func inTheWay(fi fs.FileInfo) error {
	return fmt.Errorf("%s is in the way and overwrite is false", kind(fi.Mode()))
}

// files writes storage.files in config order from what fetchFiles staged.
func (s *stage) files(st *staged) error {
	for i := range s.cfg.Storage.Files {
		f := &s.cfg.Storage.Files[i]
		err := s.log.LogOp(func() error { return s.file(f, st.files[i]) }, "writing file %q", f.Path)
		if err != nil {
			return entryErr(fmt.Sprintf("storage.files.%d", i), f.Path, err)
		}
	}
	return nil
}

func (s *stage) file(f *types.File, st stagedFile) error {
	n, fi, err := s.lookup(f.Path)
	if err != nil {
		return err
	}
	appendFragments := func(w io.Writer) error {
		for _, frag := range st.fragments {
			if frag == "" {
				continue
			}
			if err := copyFile(s.root, frag, w); err != nil {
				return err
			}
		}
		return nil
	}

	if fi != nil && !isTrue(f.Overwrite) {
		switch {
		case !fi.Mode().IsRegular():
			return inTheWay(fi)
		case f.Contents.Source != nil:
			return errors.New("a file exists and overwrite is false")
		case len(f.Append) == 0:
			s.log.Info("%q exists and the config gives no contents; leaving it as it is", f.Path)
			return nil
		}
		// Append to the existing file, keeping its mode and owner where
		// the config gives none.
		uid, gid := statOwner(fi)
		uid, gid, err := s.owner(&f.Node, uid, gid)
		if err != nil {
			return err
		}
		mode := fi.Mode() & modeBits
		if f.Mode != nil {
			mode = fileMode(*f.Mode)
		}
		return s.writeFile(n, meta{uid, gid, mode}, func(w io.Writer) error {
			if err := copyFile(s.root, n.Rel(), w); err != nil {
				return err
			}
			return appendFragments(w)
		})
	}

	uid, gid, err := s.owner(&f.Node, 0, 0)
	if err != nil {
		return err
	}
	m := meta{uid: uid, gid: gid, mode: fileMode(0o644)}
	if f.Mode != nil {
		m.mode = fileMode(*f.Mode)
	}
	if err := s.mkdirs(n.Dir); err != nil {
		return err
	}
	if fi != nil && fi.IsDir() {
		if err := s.root.RemoveAll(n.Rel()); err != nil {
			return fmt.Errorf("removing what is in the way: %w", err)
		}
	}
	if st.contents != "" && !anySource(f.Append) {
		// The fetched file is the new file: rename it into place.
		tf, err := s.root.OpenFile(st.contents, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		return s.commit(tf, st.contents, n, m)
	}
	return s.writeFile(n, m, func(w io.Writer) error {
		if st.contents != "" {
			if err := copyFile(s.root, st.contents, w); err != nil {
				return err
			}
		}
		return appendFragments(w)
	})
}

// statOwner returns the owner of an existing node.
func statOwner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}

// links creates storage.links: every symbolic link in config order, then
// every hard link (whose targets may be files or symlinks made before).
func (s *stage) links() error {
	for _, hard := range []bool{false, true} {
		for i := range s.cfg.Storage.Links {
			l := &s.cfg.Storage.Links[i]
			if isTrue(l.Hard) != hard {
				continue
			}
			var err error
			if hard {
				err = s.log.LogOp(func() error { return s.hardLink(l) }, "writing hardlink %q -> %q", l.Path, deref(l.Target))
			} else {
				err = s.log.LogOp(func() error { return s.symlink(l) }, "writing link %q -> %q", l.Path, deref(l.Target))
			}
			if err != nil {
				return entryErr(fmt.Sprintf("storage.links.%d", i), l.Path, err)
			}
		}
	}
	return nil
}

func (s *stage) symlink(l *types.Link) error {
	target := deref(l.Target)
	n, fi, err := s.lookup(l.Path)
	if err != nil {
		return err
	}
	if fi != nil && !isTrue(l.Overwrite) {
		if fi.Mode()&fs.ModeSymlink == 0 {
			return inTheWay(fi)
		}
		cur, err := s.root.Readlink(n.Rel())
		if err != nil {
			return err
		}
		if cur != target {
			return fmt.Errorf("a symlink to %q is in the way and overwrite is false", cur)
		}
		// The link is there: only set the owner the config gives.
		uid, gid, err := s.owner(&l.Node, -1, -1)
		if err != nil || (uid == -1 && gid == -1) {
			return err
		}
		if err := s.own.Path(s.root, n.Rel(), uid, gid); err != nil {
			return err
		}
		s.relabel(n.Rel())
		return nil
	}
	uid, gid, err := s.owner(&l.Node, 0, 0)
	if err != nil {
		return err
	}
	return s.placeSymlink(n, target, fi, uid, gid)
}

// placeSymlink makes n a symlink to target owned by uid:gid, replacing
// existing (whatever is at n, nil for nothing).
func (s *stage) placeSymlink(n node, target string, existing fs.FileInfo, uid, gid int) error {
	return s.replaceWith(n, existing, func(tmp string) error {
		if err := s.root.Symlink(target, tmp); err != nil {
			return err
		}
		if err := s.own.Path(s.root, tmp, uid, gid); err != nil {
			return fmt.Errorf("setting owner: %w", err)
		}
		return nil
	})
}

// replaceWith makes a new node beside n under a temp name with create,
// then renames it over n, so n is never missing or half made. A directory
// in the way (existing) is removed first: a rename cannot replace one.
func (s *stage) replaceWith(n node, existing fs.FileInfo, create func(tmp string) error) (err error) {
	if err := s.mkdirs(n.Dir); err != nil {
		return err
	}
	if existing != nil && existing.IsDir() {
		if err := s.root.RemoveAll(n.Rel()); err != nil {
			return fmt.Errorf("removing what is in the way: %w", err)
		}
	}
	tmp, err := tempName(s.root, n.Dir, n.Base)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.root.Remove(tmp) // whatever create got as far as making
		}
	}()
	if err := create(tmp); err != nil {
		return err
	}
	if err := s.root.Rename(tmp, n.Rel()); err != nil {
		return err
	}
	s.relabel(n.Rel())
	return resource.SyncDir(s.root, n.Dir)
}

// hardLink links l.Path to its target, resolved inside the root. A
// relative target is taken from the link's directory, as for a symlink.
func (s *stage) hardLink(l *types.Link) (err error) {
	target := deref(l.Target)
	tp := target
	if !path.IsAbs(tp) {
		tp = path.Join(path.Dir(path.Clean("/"+l.Path)), tp)
	}
	tn, err := resolve(s.root, tp)
	if err != nil {
		return fmt.Errorf("target %s: %w", target, err)
	}
	tfi, err := s.root.Lstat(tn.Rel())
	if err != nil {
		return fmt.Errorf("target %s: %w", target, err)
	}
	if tfi.IsDir() {
		return fmt.Errorf("target %s is a directory, which cannot be hard linked", target)
	}
	n, fi, err := s.lookup(l.Path)
	if err != nil {
		return err
	}
	if fi != nil {
		if os.SameFile(fi, tfi) {
			return nil // already this link
		}
		if !isTrue(l.Overwrite) {
			return inTheWay(fi)
		}
	}
	return s.replaceWith(n, fi, func(tmp string) error {
		return s.root.Link(tn.Rel(), tmp)
	})
}
