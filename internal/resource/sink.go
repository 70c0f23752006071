package resource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// Sink receives fetched bytes. When a fetch must start over (its source
// broke off and could not resume), the sink is rewound to where it began.
type Sink interface {
	io.Writer
	Rewind() error
}

// FileSink writes into f from its current offset; Rewind truncates back
// to that offset (so fragments can be appended to a file being built).
type FileSink struct {
	f     *os.File
	start int64
}

// NewFileSink returns a sink writing into f at its current offset.
func NewFileSink(f *os.File) (*FileSink, error) {
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	return &FileSink{f: f, start: off}, nil
}

func (s *FileSink) Write(p []byte) (int, error) { return s.f.Write(p) }

// Rewind drops everything written since the sink was made.
func (s *FileSink) Rewind() error {
	if err := s.f.Truncate(s.start); err != nil {
		return err
	}
	_, err := s.f.Seek(s.start, io.SeekStart)
	return err
}

// bufferSink collects bytes in memory up to a limit.
type bufferSink struct {
	buf   bytes.Buffer
	limit int
}

func (s *bufferSink) Write(p []byte) (int, error) {
	if s.buf.Len()+len(p) > s.limit {
		return 0, fmt.Errorf("%w (%d bytes)", ErrTooLarge, s.limit)
	}
	return s.buf.Write(p)
}

func (s *bufferSink) Rewind() error { s.buf.Reset(); return nil }

// FetchBytes fetches a resource into memory, refusing more than limit
// bytes (after decompression). For things that must be parsed whole:
// configs, CA bundles, key files.
func (f *Fetcher) FetchBytes(ctx context.Context, req Request, limit int) ([]byte, error) {
	s := &bufferSink{limit: limit}
	if err := f.Fetch(ctx, req, s); err != nil {
		return nil, err
	}
	return s.buf.Bytes(), nil
}

// FileOptions say how FetchToFile creates its file.
type FileOptions struct {
	// Root, if set, confines the write: dest is a path inside Root, and
	// every step of it (and of the temp file and the rename) is resolved
	// inside Root, so a symlink in a target filesystem can never send the
	// bytes elsewhere. Without it, dest is a host path.
	Root *os.Root
	// Mode of the new file; default 0644.
	Mode os.FileMode
	// Prepare, if set, runs on the complete, verified temp file before it
	// is renamed into place (to set ownership, say). An error aborts.
	Prepare func(*os.File) error
}

// FetchToFile replaces dest with the resource: the bytes go to a temp file
// in dest's directory, which is verified, fsynced and renamed over dest,
// and the directory is fsynced. On any failure the temp file is removed
// and dest is as it was.
func (f *Fetcher) FetchToFile(ctx context.Context, req Request, dest string, opts FileOptions) error {
	return writeAtomic(dest, opts, func(tmp *os.File) error {
		s, err := NewFileSink(tmp)
		if err != nil {
			return err
		}
		return f.Fetch(ctx, req, s)
	})
}

// writeAtomic creates a temp file beside dest, lets fill write it, then
// fsyncs it, applies Prepare and the mode, renames it over dest and
// fsyncs the directory. All of it happens inside opts.Root (or inside
// dest's directory when there is no root).
func writeAtomic(dest string, opts FileOptions, fill func(*os.File) error) (err error) {
	root, name := opts.Root, dest
	if root == nil {
		if root, err = os.OpenRoot(filepath.Dir(dest)); err != nil {
			return fmt.Errorf("opening directory of %s: %w", dest, err)
		}
		defer root.Close()
		name = filepath.Base(dest)
	}
	dir, base := filepath.Split(name)
	tmp, tmpName, err := createTemp(root, dir, "."+base+".ignition-")
	if err != nil {
		return fmt.Errorf("creating temp file for %s: %w", dest, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			root.Remove(tmpName)
		}
	}()
	if err := fill(tmp); err != nil {
		return err
	}
	mode := opts.Mode
	if mode == 0 {
		mode = 0o644
	}
	// Prepare (which may chown) runs before the chmod: a chown clears
	// setuid and setgid bits, so they must be set after it.
	if opts.Prepare != nil {
		if err := opts.Prepare(tmp); err != nil {
			return fmt.Errorf("preparing %s: %w", dest, err)
		}
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("setting mode of %s: %w", dest, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dest, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", dest, err)
	}
	if err := root.Rename(tmpName, name); err != nil {
		return fmt.Errorf("renaming into %s: %w", dest, err)
	}
	return SyncDir(root, dir)
}

// createTemp creates a new file named prefix+random in dir inside root,
// like os.CreateTemp (which has no os.Root form).
func createTemp(root *os.Root, dir, prefix string) (*os.File, string, error) {
	for range 100 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", errors.New("no free temp file name")
}

// SyncDir makes a rename in dir (inside root, "" for its top) durable.
func SyncDir(root *os.Root, dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
