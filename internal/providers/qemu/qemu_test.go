package qemu

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
)

const cfg = `{"ignition": {"version": "3.4.0"}}`

// recorder is a fake command runner that records what was run.
type recorder struct {
	mu   sync.Mutex
	argv [][]string
	err  error
}

func (r *recorder) Run(_ context.Context, argv []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.argv = append(r.argv, argv)
	return r.err
}

func (r *recorder) Output(ctx context.Context, argv []string) ([]byte, error) {
	return nil, r.Run(ctx, argv)
}

func host(r *recorder) providers.Host {
	return providers.Host{Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }, Commands: r}
}

func gz(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fwCfgDir lays out a fw_cfg entry as sysfs shows it: raw and size.
func fwCfgDir(t *testing.T, content []byte, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "by_name", "opt", "com.coreos", "config")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "raw"), content, 0o400); err != nil {
		t.Fatal(err)
	}
	if size != "" {
		if err := os.WriteFile(filepath.Join(dir, "size"), []byte(size), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "raw")
}

func TestFwCfg(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
		size    string
	}{
		{"plain, with size", []byte(cfg), fmt.Sprintf("%d\n", len(cfg))},
		{"plain, no size file", []byte(cfg), ""},
		{"size file lies (too small)", []byte(cfg), "3\n"},
		{"gzip", gz(t, cfg), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			s := source{arch: "amd64", fwCfg: fwCfgDir(t, tc.content, tc.size)}
			got, err := s.fetch(context.Background(), host(r))
			if err != nil || string(got) != cfg {
				t.Fatalf("fetch = %q, %v", got, err)
			}
			if len(r.argv) != 1 || strings.Join(r.argv[0], " ") != "modprobe qemu_fw_cfg" {
				t.Errorf("ran %q, want modprobe qemu_fw_cfg", r.argv)
			}
		})
	}
}

func TestFwCfgLargeWarns(t *testing.T) {
	for _, tc := range []struct {
		size string
		warn bool
	}{
		{fmt.Sprint(2 << 20), true},
		{fmt.Sprint(len(cfg)), false},
	} {
		var logs bytes.Buffer
		h := host(&recorder{})
		h.Log = log.NewWithSink(log.NewWriterSink(&logs))
		// The size file is what is checked: the raw file stays small.
		s := source{arch: "amd64", fwCfg: fwCfgDir(t, []byte(cfg), tc.size)}
		if got, err := s.fetch(context.Background(), h); err != nil || string(got) != cfg {
			t.Fatalf("fetch = %q, %v", got, err)
		}
		if warned := strings.Contains(logs.String(), "quadratic"); warned != tc.warn {
			t.Errorf("size %s: warned %v, want %v:\n%s", tc.size, warned, tc.warn, logs.String())
		}
	}
}

func TestFwCfgAbsent(t *testing.T) {
	// modprobe failing (module built in) is only a warning.
	r := &recorder{err: errors.New("modprobe: FATAL: Module qemu_fw_cfg not found")}
	s := source{arch: "amd64", fwCfg: filepath.Join(t.TempDir(), "by_name/opt/com.coreos/config/raw")}
	_, err := s.fetch(context.Background(), host(r))
	if !errors.Is(err, providers.ErrNoConfig) {
		t.Fatalf("err = %v, want ErrNoConfig", err)
	}
}

func TestFwCfgUnreadable(t *testing.T) {
	// A directory where the file should be: an error naming the path, not "no config".
	p := filepath.Join(t.TempDir(), "raw")
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := source{arch: "amd64", fwCfg: p}.fetch(context.Background(), host(&recorder{}))
	if err == nil || errors.Is(err, providers.ErrNoConfig) || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v, want a read error naming %s", err, p)
	}
}

func TestReadLargeBigConfig(t *testing.T) {
	// Larger than the initial buffer, without a size file: the buffer grows.
	big := bytes.Repeat([]byte("0123456789abcdef"), (3*initialBuffer)/16+7)
	p := fwCfgDir(t, big, "")
	got, err := ReadLarge(p)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("ReadLarge: %d bytes, %v; want %d", len(got), err, len(big))
	}
	q, err := readQuadratic(p, int64(len(big)))
	if err != nil || !bytes.Equal(q, big) {
		t.Fatalf("readQuadratic: %d bytes, %v", len(q), err)
	}
}

func TestBlockDevice(t *testing.T) {
	// The disk holds the config and then zeros to its end.
	img := filepath.Join(t.TempDir(), "disk")
	disk := make([]byte, 64<<10)
	copy(disk, cfg)
	if err := os.WriteFile(img, disk, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"s390x", "ppc64le"} {
		r := &recorder{}
		got, err := source{arch: arch, blockDev: img, fwCfg: "/nonexistent"}.fetch(context.Background(), host(r))
		if err != nil || string(got) != cfg {
			t.Fatalf("%s: fetch = %q, %v", arch, got, err)
		}
		if len(r.argv) != 0 {
			t.Errorf("%s: ran %q; fw_cfg is not used there", arch, r.argv)
		}
	}
	_, err := source{arch: "s390x", blockDev: filepath.Join(t.TempDir(), "virtio-ignition")}.fetch(context.Background(), host(&recorder{}))
	if !errors.Is(err, providers.ErrNoConfig) {
		t.Fatalf("no disk: err = %v, want ErrNoConfig", err)
	}
}

// TestBlockDeviceLoop reads the config from a real block device.
func TestBlockDeviceLoop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for losetup")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("needs losetup")
	}
	img := filepath.Join(t.TempDir(), "disk")
	disk := make([]byte, 1<<20)
	copy(disk, gz(t, cfg))
	if err := os.WriteFile(img, disk, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).Output()
	if err != nil {
		t.Skipf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	got, err := source{arch: "s390x", blockDev: dev}.fetch(context.Background(), host(&recorder{}))
	if err != nil || string(got) != cfg {
		t.Fatalf("fetch from %s = %q, %v", dev, got, err)
	}
}

// readQuadratic reads a file the way ignition#1259 describes: 4 KiB at a
// time, each chunk from a fresh open that reads (and drops) everything
// before it, as the kernel does for each fw_cfg read at an offset.
func readQuadratic(path string, size int64) ([]byte, error) {
	const chunk = 4096
	out := make([]byte, 0, size)
	for off := int64(0); ; off += chunk {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		if _, err := io.CopyN(io.Discard, f, off); err != nil {
			f.Close()
			if err == io.EOF {
				return out, nil
			}
			return nil, err
		}
		buf := make([]byte, chunk)
		n, err := io.ReadFull(f, buf)
		f.Close()
		out = append(out, buf[:n]...)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// BenchmarkFwCfgRead reads a 4 MiB config from a file standing in for the
// fw_cfg sysfs file: ours (one sequential read into a large buffer)
// against 4 KiB at a time from the start each time. On a regular file
// this measures what the reader itself costs; through the real sysfs file
// the kernel adds its own quadratic cost to both (see the package
// documentation and TestFwCfgInVM).
func BenchmarkFwCfgRead(b *testing.B) {
	const size = 4 << 20
	dir := b.TempDir()
	p := filepath.Join(dir, "raw")
	data := bytes.Repeat([]byte("x"), size)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			got, err := ReadLarge(p)
			if err != nil || len(got) != size {
				b.Fatalf("%d bytes, %v", len(got), err)
			}
		}
	})
	b.Run("4KiB-from-start", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			got, err := readQuadratic(p, size)
			if err != nil || len(got) != size {
				b.Fatalf("%d bytes, %v", len(got), err)
			}
		}
	})
}
