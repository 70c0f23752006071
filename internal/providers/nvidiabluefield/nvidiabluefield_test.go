package nvidiabluefield

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
)

const cfg = `{"ignition": {"version": "3.4.0"}}`

type recorder struct{ argv [][]string }

func (r *recorder) Run(_ context.Context, argv []string) error {
	r.argv = append(r.argv, argv)
	return nil
}
func (r *recorder) Output(ctx context.Context, argv []string) ([]byte, error) {
	return nil, r.Run(ctx, argv)
}

func host(r *recorder) providers.Host {
	return providers.Host{Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }, Commands: r}
}

// pad8 pads b with NULs to whole 8-byte words, as the FIFO hands them out.
func pad8(b []byte) []byte {
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestFetch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
		none    bool
	}{
		{"config padded to words", pad8([]byte(cfg)), false},
		{"gzip padded to words", pad8(gz(t, cfg)), false},
		{"empty FIFO", nil, true},
		{"only padding", make([]byte, 8), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bootfifo")
			if err := os.WriteFile(p, tc.content, 0o400); err != nil {
				t.Fatal(err)
			}
			r := &recorder{}
			got, err := fetchFrom(context.Background(), host(r), p)
			if tc.none {
				if !errors.Is(err, providers.ErrNoConfig) {
					t.Fatalf("err = %v, want ErrNoConfig", err)
				}
				return
			}
			if err != nil || string(got) != cfg {
				t.Fatalf("fetch = %q, %v", got, err)
			}
			if len(r.argv) != 1 || strings.Join(r.argv[0], " ") != "modprobe mlxbf-bootctl" {
				t.Errorf("ran %q", r.argv)
			}
		})
	}
}

func TestNoDevice(t *testing.T) {
	_, err := fetchFrom(context.Background(), host(&recorder{}), filepath.Join(t.TempDir(), "MLNXBF04:00", "bootfifo"))
	if !errors.Is(err, providers.ErrNoConfig) {
		t.Fatalf("err = %v, want ErrNoConfig", err)
	}
}

// TestFIFOReadInPieces feeds the config through a named pipe in small
// writes with pauses, as the boot FIFO hands it out: it is read to the end.
func TestFIFOReadInPieces(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bootfifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	data := pad8([]byte(strings.Repeat(" ", 10000) + cfg))
	done := make(chan error, 1)
	go func() {
		w, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			done <- err
			return
		}
		defer w.Close()
		for len(data) > 0 {
			n := min(len(data), 3000)
			if _, err := w.Write(data[:n]); err != nil {
				done <- err
				return
			}
			data = data[n:]
			time.Sleep(10 * time.Millisecond)
		}
		done <- nil
	}()
	got, err := fetchFrom(context.Background(), host(&recorder{}), p)
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if err != nil || strings.TrimSpace(string(got)) != cfg {
		t.Fatalf("fetch = %.40q…, %v", got, err)
	}
}
