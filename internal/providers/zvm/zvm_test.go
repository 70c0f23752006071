package zvm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
)

const cfg = `{"ignition": {"version": "3.4.0"}}`

const header = "ORIGINID FILE CLASS RECORDS  CPY HOLD DATE  TIME     NAME      TYPE      DIST\n"

// fakeVmur is a reader: `vmur list` prints list, `vmur receive` writes the
// spool file's content (files[id]) where asked.
type fakeVmur struct {
	list    string
	listErr error
	files   map[string][]byte
	argv    []string
	// ignored: the reader is on the I/O ignore list until cio_ignore -r.
	ignored bool
}

func (f *fakeVmur) Run(_ context.Context, argv []string) error {
	f.argv = append(f.argv, strings.Join(argv, " "))
	switch {
	case argv[0] == "modprobe", argv[0] == "udevadm":
		return nil
	case strings.Join(argv, " ") == "chccwdev -e 000c":
		if f.ignored {
			return errors.New("chccwdev: device 0.0.000c not found")
		}
		return nil
	case strings.Join(argv, " ") == "cio_ignore -r 000c":
		f.ignored = false
		return nil
	case len(argv) == 5 && argv[0] == "vmur" && argv[1] == "receive" && argv[2] == "-f":
		data, ok := f.files[argv[3]]
		if !ok {
			return fmt.Errorf("vmur: reader file %s does not exist", argv[3])
		}
		return os.WriteFile(argv[4], data, 0o644)
	}
	return fmt.Errorf("unexpected command %q", argv)
}

func (f *fakeVmur) Output(_ context.Context, argv []string) ([]byte, error) {
	f.argv = append(f.argv, strings.Join(argv, " "))
	if strings.Join(argv, " ") == "vmur list" {
		return []byte(f.list), f.listErr
	}
	return nil, fmt.Errorf("unexpected command %q", argv)
}

func host(f *fakeVmur) providers.Host {
	return providers.Host{Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }, Commands: f}
}

func TestFetch(t *testing.T) {
	list := header +
		"T6360025 0463 V DMP 00020222 001 NONE 06/11 15:07:42 VMDUMP    FILE      T6360025\n" +
		"LINUX01  0012 A PUN 00000002 001 NONE 11/21 23:59:01                     LINUX01 \n" +
		"LINUX01  0013 A PUN 00000003 001 NONE 11/22 00:01:44 CONFIG    IGN       LINUX01 \n"
	card := append([]byte(cfg), make([]byte, 80-len(cfg)%80)...) // padded to a card
	f := &fakeVmur{list: list, files: map[string][]byte{"0013": card, "0012": []byte("not this one")}}
	got, err := Fetch(context.Background(), host(f))
	if err != nil || string(got) != cfg {
		t.Fatalf("Fetch = %q, %v", got, err)
	}
	want := []string{"modprobe vmur", "chccwdev -e 000c", "udevadm settle", "vmur list", "vmur receive -f 0013 "}
	if len(f.argv) != len(want) || !strings.HasPrefix(f.argv[len(want)-1], want[len(want)-1]) ||
		strings.Join(f.argv[:len(want)-1], ",") != strings.Join(want[:len(want)-1], ",") {
		t.Errorf("ran %q, want %q…", f.argv, want)
	}

	// A reader on the I/O ignore list is taken off it, then set online.
	f = &fakeVmur{list: list, files: map[string][]byte{"0013": card}, ignored: true}
	if got, err := Fetch(context.Background(), host(f)); err != nil || string(got) != cfg {
		t.Fatalf("ignored reader: Fetch = %q, %v", got, err)
	}
	if want := "modprobe vmur,chccwdev -e 000c,cio_ignore -r 000c,chccwdev -e 000c,udevadm settle,vmur list"; !strings.HasPrefix(strings.Join(f.argv, ","), want) {
		t.Errorf("ran %q, want %s,…", f.argv, want)
	}
}

func TestNoConfig(t *testing.T) {
	for name, list := range map[string]string{
		"empty reader, no output": "",
		"empty reader, header":    header,
		"no IGN file":             header + "T6360025 0463 V DMP 00020222 001 NONE 06/11 15:07:42 VMDUMP    FILE      T6360025\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Fetch(context.Background(), host(&fakeVmur{list: list}))
			if !errors.Is(err, providers.ErrNoConfig) {
				t.Fatalf("err = %v, want ErrNoConfig", err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	list := header + "LINUX01  0013 A PUN 00000003 001 NONE 11/22 00:01:44 CONFIG    IGN       LINUX01 \n"
	for _, tc := range []struct {
		name string
		f    *fakeVmur
		want string
	}{
		{"reader offline", &fakeVmur{listErr: errors.New("vmur: Unit record device 0.0.000c is offline")}, "is the reader device online?"},
		{"receive fails", &fakeVmur{list: list}, "receiving the z/VM reader's spool file 0013"},
		{"garbled list", &fakeVmur{list: "vmur: something else\nx\n"}, "unexpected output of vmur list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fetch(context.Background(), host(tc.f))
			if err == nil || errors.Is(err, providers.ErrNoConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
