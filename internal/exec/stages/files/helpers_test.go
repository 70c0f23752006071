package files

import (
	"bytes"
	"context"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/resource"
)

// privileged reports whether the tests can really chown; otherwise the
// owners the stage asks for are recorded per inode and checked from there.
var privileged = os.Geteuid() == 0

// fixture is a target root under a temp dir.
type fixture struct {
	t      *testing.T
	dir    string
	root   *os.Root
	owners *recorder // nil when privileged: real chowns
	logs   *syncBuffer
	env    Env
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	f, err := resource.New(resource.Options{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, Total: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{t: t, dir: dir, root: root, logs: &syncBuffer{}}
	fx.env = Env{
		Root:       root,
		Fetcher:    f,
		Log:        log.NewWithSink(log.NewWriterSink(fx.logs)),
		Now:        func() time.Time { return time.Date(2026, 3, 4, 16, 49, 2, 0, time.UTC) },
		BootIDFile: filepath.Join(t.TempDir(), "boot_id"),
		// Never the host's /run, even when a test root has SELinux.
		RelabelFile: filepath.Join(t.TempDir(), "relabel-extra.d", "ignition.relabel"),
	}
	if err := os.WriteFile(fx.env.BootIDFile, []byte("d82970dc-6fea-43c6-bcf0-8ec547e8a989\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !privileged {
		fx.owners = &recorder{owners: map[inode][2]int{}}
		fx.env.Owners = fx.owners
	}
	return fx
}

// run parses raw (a JSON config) and runs the stage on the root.
func (fx *fixture) run(raw string) error {
	fx.t.Helper()
	return Run(context.Background(), fx.parse(raw), fx.env)
}

func (fx *fixture) parse(raw string) types.Config {
	fx.t.Helper()
	cfg, rpt, err := config.Parse([]byte(raw))
	if err != nil {
		fx.t.Fatalf("parsing the test config: %v\n%s\n%s", err, rpt.String(), raw)
	}
	return cfg
}

// host returns the host path of p, a path in the target.
func (fx *fixture) host(p string) string { return filepath.Join(fx.dir, p) }

func (fx *fixture) write(p, contents string, mode os.FileMode) {
	fx.t.Helper()
	if err := os.MkdirAll(filepath.Dir(fx.host(p)), 0o755); err != nil {
		fx.t.Fatal(err)
	}
	if err := os.WriteFile(fx.host(p), []byte(contents), mode); err != nil {
		fx.t.Fatal(err)
	}
	if err := os.Chmod(fx.host(p), mode); err != nil {
		fx.t.Fatal(err)
	}
}

func (fx *fixture) mkdir(p string) {
	fx.t.Helper()
	if err := os.MkdirAll(fx.host(p), 0o755); err != nil {
		fx.t.Fatal(err)
	}
}

func (fx *fixture) symlink(target, p string) {
	fx.t.Helper()
	fx.mkdir(filepath.Dir(p))
	if err := os.Symlink(target, fx.host(p)); err != nil {
		fx.t.Fatal(err)
	}
}

// read returns the contents of p, failing the test if it cannot.
func (fx *fixture) read(p string) string {
	fx.t.Helper()
	b, err := os.ReadFile(fx.host(p))
	if err != nil {
		fx.t.Fatalf("reading %s: %v", p, err)
	}
	return string(b)
}

func (fx *fixture) lstat(p string) fs.FileInfo {
	fx.t.Helper()
	fi, err := os.Lstat(fx.host(p))
	if err != nil {
		fx.t.Fatalf("%s: %v", p, err)
	}
	return fi
}

func (fx *fixture) exists(p string) bool {
	_, err := os.Lstat(fx.host(p))
	return err == nil
}

// mode returns p's permission and special bits.
func (fx *fixture) mode(p string) fs.FileMode {
	fx.t.Helper()
	return fx.lstat(p).Mode() & modeBits
}

// owner returns p's owner: the real one when privileged, else the one the
// stage asked for (or, if it asked for none, the real one).
func (fx *fixture) owner(p string) [2]int {
	fx.t.Helper()
	fi := fx.lstat(p)
	st := fi.Sys().(*syscall.Stat_t)
	if fx.owners != nil {
		if o, ok := fx.owners.get(inode{st.Dev, st.Ino}); ok {
			return o
		}
	}
	return [2]int{int(st.Uid), int(st.Gid)}
}

// tempFiles lists leftover temp files anywhere in the root.
func (fx *fixture) tempFiles() []string {
	fx.t.Helper()
	var found []string
	filepath.WalkDir(fx.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".ignition-") && d.Name() != ".ignition-result.json" {
			found = append(found, p)
		}
		return nil
	})
	return found
}

type inode struct{ dev, ino uint64 }

// recorder is an Owners that records instead of chowning, per inode (a
// rename keeps the inode, so the owner set on a temp file is found at
// its final path).
type recorder struct {
	mu     sync.Mutex
	owners map[inode][2]int
}

func (r *recorder) set(fi fs.FileInfo, uid, gid int) {
	st := fi.Sys().(*syscall.Stat_t)
	k := inode{st.Dev, st.Ino}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, ok := r.owners[k]
	if !ok {
		cur = [2]int{int(st.Uid), int(st.Gid)}
	}
	if uid != -1 {
		cur[0] = uid
	}
	if gid != -1 {
		cur[1] = gid
	}
	r.owners[k] = cur
}

func (r *recorder) get(k inode) ([2]int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.owners[k]
	return o, ok
}

func (r *recorder) File(f *os.File, uid, gid int) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	r.set(fi, uid, gid)
	return nil
}

func (r *recorder) Path(root *os.Root, name string, uid, gid int) error {
	fi, err := root.Lstat(name)
	if err != nil {
		return err
	}
	r.set(fi, uid, gid)
	return nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func dataURL(s string) string { return "data:," + url.PathEscape(s) }
