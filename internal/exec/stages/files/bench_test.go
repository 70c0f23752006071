package files

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/resource"
)

// benchRoot returns a fresh root on tmpfs (/dev/shm) when there is one,
// so the figure is the stage's work rather than the disk's.
func benchRoot(b *testing.B) (*os.Root, string) {
	b.Helper()
	parent := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		parent = "/dev/shm"
	}
	dir, err := os.MkdirTemp(parent, "ignition-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	root, err := os.OpenRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { root.Close() })
	return root, dir
}

func benchEnv(b *testing.B, root *os.Root) Env {
	f, err := resource.New(resource.Options{})
	if err != nil {
		b.Fatal(err)
	}
	bootID := b.TempDir() + "/boot_id"
	os.WriteFile(bootID, []byte("00000000-0000-0000-0000-000000000000\n"), 0o644)
	return Env{Root: root, Fetcher: f, BootIDFile: bootID, Owners: nopOwners{}}
}

// nopOwners skips chown: everything is created as root:root (uid and gid 0)
// anyway, and the benchmark should not need privileges.
type nopOwners struct{}

func (nopOwners) File(*os.File, int, int) error         { return nil }
func (nopOwners) Path(*os.Root, string, int, int) error { return nil }

// BenchmarkFilesStageLocal writes 10,000 files with 1 KiB data: contents,
// 1,000 directories and 1,000 symlinks into a tmpfs root.
func BenchmarkFilesStageLocal(b *testing.B) {
	str := func(s string) *string { return &s }
	var cfg types.Config
	body := "data:," + strings.Repeat("x", 1024)
	for i := range 1000 {
		var d types.Directory
		d.Path = fmt.Sprintf("/srv/d%04d", i)
		cfg.Storage.Directories = append(cfg.Storage.Directories, d)
	}
	for i := range 10000 {
		var f types.File
		f.Path = fmt.Sprintf("/srv/d%04d/f%05d", i%1000, i)
		f.Contents.Source = str(body)
		cfg.Storage.Files = append(cfg.Storage.Files, f)
	}
	for i := range 1000 {
		var l types.Link
		l.Path = fmt.Sprintf("/srv/l%04d", i)
		l.Target = str(fmt.Sprintf("d%04d", i))
		cfg.Storage.Links = append(cfg.Storage.Links, l)
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		root, _ := benchRoot(b)
		env := benchEnv(b, root)
		b.StartTimer()
		if err := Run(context.Background(), cfg, env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilesStageRemote writes 200 files fetched from a loopback
// server that waits 50 ms before each response.
func BenchmarkFilesStageRemote(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		w.Write([]byte(strings.Repeat("y", 4096)))
	}))
	defer srv.Close()
	str := func(s string) *string { return &s }
	var cfg types.Config
	for i := range 200 {
		var f types.File
		f.Path = fmt.Sprintf("/srv/remote%03d", i)
		f.Contents.Source = str(fmt.Sprintf("%s/%d", srv.URL, i))
		cfg.Storage.Files = append(cfg.Storage.Files, f)
	}
	for b.Loop() {
		b.StopTimer()
		root, _ := benchRoot(b)
		env := benchEnv(b, root)
		b.StartTimer()
		if err := Run(context.Background(), cfg, env); err != nil {
			b.Fatal(err)
		}
	}
}
