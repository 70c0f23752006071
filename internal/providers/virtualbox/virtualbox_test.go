package virtualbox

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
)

const cfg = `{"ignition": {"version": "3.4.0"}}`

type nopRunner struct{}

func (nopRunner) Run(context.Context, []string) error              { return nil }
func (nopRunner) Output(context.Context, []string) ([]byte, error) { return nil, nil }

func hostEnv() providers.Host {
	return providers.Host{Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }, Commands: nopRunner{}}
}

// store is a fake guest property service.
type store struct {
	props  map[string]string
	closed bool
}

func (s *store) Get(name string) (string, error) {
	v, ok := s.props[name]
	if !ok {
		return "", fmt.Errorf("%s: %w", name, errNotFound)
	}
	return v, nil
}

func (s *store) Delete(name string) error { delete(s.props, name); return nil }
func (s *store) Close() error             { s.closed = true; return nil }

func opener(s *store) func() (properties, error) { return func() (properties, error) { return s, nil } }

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func TestFetch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]string
		none  bool
	}{
		{"set", map[string]string{Property: cfg, "/VirtualBox/GuestInfo/OS/Product": "Linux"}, false},
		{"gzip", map[string]string{Property: gz(cfg)}, false},
		{"not set", map[string]string{"/VirtualBox/GuestInfo/OS/Product": "Linux"}, true},
		{"empty", map[string]string{Property: ""}, true},
		{"empty encoding", map[string]string{Property: cfg, EncodingProperty: ""}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &store{props: tc.props}
			got, err := fetch(context.Background(), hostEnv(), opener(s))
			if tc.none {
				if !errors.Is(err, providers.ErrNoConfig) {
					t.Fatalf("err = %v, want ErrNoConfig", err)
				}
			} else if err != nil || string(got) != cfg {
				t.Fatalf("fetch = %q, %v", got, err)
			}
			if !s.closed {
				t.Error("the connection was not closed")
			}
		})
	}
}

// TestFetchEncoding: an encoding set is refused, not guessed at.
func TestFetchEncoding(t *testing.T) {
	s := &store{props: map[string]string{Property: cfg, EncodingProperty: "gzip+base64"}}
	_, err := fetch(context.Background(), hostEnv(), opener(s))
	if err == nil || errors.Is(err, providers.ErrNoConfig) || !strings.Contains(err.Error(), `/Ignition/Config/Encoding is "gzip+base64", but no encoding is supported`) {
		t.Fatalf("err = %v", err)
	}
}

func TestDeleteConfig(t *testing.T) {
	s := &store{props: map[string]string{Property: cfg, EncodingProperty: "", "/other": "kept"}}
	if err := deleteConfig(context.Background(), hostEnv(), opener(s)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.props[Property]; ok || s.props["/other"] != "kept" || len(s.props) != 1 {
		t.Errorf("after delete: %q", s.props)
	}
	if _, err := fetch(context.Background(), hostEnv(), opener(s)); !errors.Is(err, providers.ErrNoConfig) {
		t.Errorf("fetch after delete: %v", err)
	}
}

// TestRealDeviceAbsent runs the production path: this machine is not a
// VirtualBox VM, so opening the device fails with an error naming it.
func TestRealDeviceAbsent(t *testing.T) {
	if _, err := os.Stat(Device); err == nil {
		t.Skipf("%s exists: this is a VirtualBox VM", Device)
	}
	_, err := Fetch(context.Background(), hostEnv())
	if err == nil || errors.Is(err, providers.ErrNoConfig) || !strings.Contains(err.Error(), Device) {
		t.Fatalf("err = %v, want an error naming %s", err, Device)
	}
}

// TestRealIoctlOnWrongDevice makes the real ioctl system call on a device
// that is not vboxguest: the kernel refuses it, and so do we.
func TestRealIoctlOnWrongDevice(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	_, err = connectHGCM(f, sysIoctl)
	if !errors.Is(err, syscall.ENOTTY) {
		t.Fatalf("err = %v, want ENOTTY", err)
	}
}

func TestIoctlNumbers(t *testing.T) {
	// _IOWR('V', n, size) with the uapi struct sizes.
	if ioctlConnect != 0xC09C5604 {
		t.Errorf("VBG_IOCTL_HGCM_CONNECT = %#x", ioctlConnect)
	}
	if ioctlDisconnect != 0xC01C5605 {
		t.Errorf("VBG_IOCTL_HGCM_DISCONNECT = %#x", ioctlDisconnect)
	}
	if is64 && ioctlCall(72) != 0xC0485608 {
		t.Errorf("VBG_IOCTL_HGCM_CALL_64(72) = %#x", ioctlCall(72))
	}
}

// driver is a fake vboxguest driver with a guest property service,
// decoding requests as the kernel does.
type driver struct {
	t         *testing.T
	props     map[string]string
	client    uint32
	connected bool
	calls     []string
}

// mem returns the caller's buffer at addr. (The pointer is rebuilt from
// its bits, as the kernel's copy_from_user does, not from a Go value.)
func mem(addr uint64, size uint32) []byte {
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr))
	return unsafe.Slice((*byte)(p), size)
}

func (d *driver) ioctl(_ uintptr, req uint32, buf []byte) error {
	le := binary.LittleEndian
	// As the driver checks: the version, the ioctl's size against the
	// larger of the two sizes, and for the fixed-size requests both sizes
	// exactly.
	in, out := le.Uint32(buf[0:]), le.Uint32(buf[16:])
	if le.Uint32(buf[4:]) != hdrVersion || max(in, out) != uint32(len(buf)) || req>>16&0x3fff != uint32(len(buf)) {
		d.t.Errorf("ioctl %#x: bad header %x for a %d-byte buffer", req, buf[:hdrSize], len(buf))
		return syscall.EINVAL
	}
	sizes := func(wantIn, wantOut uint32) bool {
		if in != wantIn || out != wantOut {
			d.t.Errorf("ioctl %#x: sizes in %d out %d, want %d and %d", req, in, out, wantIn, wantOut)
			return false
		}
		return true
	}
	rc := func(v int32) { le.PutUint32(buf[12:], uint32(v)) }
	switch req {
	case ioctlConnect:
		if !sizes(hdrSize+132, hdrSize+4) {
			return syscall.EINVAL
		}
		name := string(bytes.TrimRight(buf[hdrSize+4:], "\x00"))
		if le.Uint32(buf[hdrSize:]) != locLocalhostExisting || name != serviceName {
			rc(-1)
			return nil
		}
		d.connected, d.client = true, 42
		le.PutUint32(buf[hdrSize:], d.client)
		rc(0)
		return nil
	case ioctlDisconnect:
		if !sizes(hdrSize+4, hdrSize) || le.Uint32(buf[hdrSize:]) != d.client {
			return syscall.EINVAL
		}
		d.connected = false
		rc(0)
		return nil
	}
	if req != ioctlCall(uint32(len(buf))) {
		return syscall.ENOTTY
	}
	if in != out || !d.connected || le.Uint32(buf[hdrSize:]) != d.client {
		return syscall.EINVAL
	}
	fn := le.Uint32(buf[hdrSize+4:])
	n := int(le.Uint16(buf[hdrSize+14:]))
	ps := parmSize32
	if is64 {
		ps = parmSize64
	}
	if len(buf) != callSize+n*ps {
		return syscall.EINVAL
	}
	p := func(i int) []byte { return buf[callSize+i*ps:] }
	ptr := func(i int) []byte {
		size := le.Uint32(p(i)[4:])
		if is64 {
			return mem(le.Uint64(p(i)[8:]), size)
		}
		return mem(uint64(le.Uint32(p(i)[8:])), size)
	}
	cname := func(i int) string {
		b := ptr(i)
		return string(b[:bytes.IndexByte(b, 0)])
	}
	switch fn {
	case fnGetProp:
		if n != 4 || le.Uint32(p(0)) != parmTypeLinAddrIn || le.Uint32(p(1)) != parmTypeLinAddr || le.Uint32(p(2)) != parmTypeU64 || le.Uint32(p(3)) != parmTypeU32 {
			d.t.Errorf("GET_PROP parameters %x", buf[callSize:])
			return syscall.EINVAL
		}
		name := cname(0)
		d.calls = append(d.calls, "get "+name)
		v, ok := d.props[name]
		if !ok {
			rc(verrNotFound)
			return nil
		}
		val := append([]byte(v), 0)
		val = append(val, "RDONLYGUEST"...)
		val = append(val, 0)
		le.PutUint32(p(3)[4:], uint32(len(val)))
		out := ptr(1)
		if len(val) > len(out) {
			rc(verrBufferOverflow)
			return nil
		}
		copy(out, val)
		le.PutUint64(p(2)[4:], 1700000000000000000)
		rc(0)
	case fnDelProp:
		name := cname(0)
		d.calls = append(d.calls, "del "+name)
		if _, ok := d.props[name]; !ok {
			rc(verrNotFound)
			return nil
		}
		delete(d.props, name)
		rc(0)
	default:
		rc(-1)
	}
	return nil
}

func TestHGCMAgainstFakeDriver(t *testing.T) {
	big := `{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/x", "contents": {"source": "data:,` + strings.Repeat("a", 100<<10) + `"}}]}}`
	d := &driver{t: t, props: map[string]string{Property: cfg, "/big": big}}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	c, err := connectHGCM(f, d.ioctl)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(Property); err != nil || v != cfg {
		t.Errorf("Get = %q, %v", v, err)
	}
	// Larger than the first buffer: retried with the size the service says.
	if v, err := c.Get("/big"); err != nil || v != big {
		t.Errorf("Get /big = %d bytes, %v", len(v), err)
	}
	if _, err := c.Get("/missing"); !errors.Is(err, errNotFound) {
		t.Errorf("Get /missing: %v", err)
	}
	if err := c.Delete(Property); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if err := c.Delete(Property); err != nil {
		t.Errorf("Delete again: %v", err)
	}
	if _, err := c.Get(Property); !errors.Is(err, errNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d.connected {
		t.Error("still connected")
	}
	want := "get /Ignition/Config,get /big,get /big,get /missing,del /Ignition/Config,del /Ignition/Config,get /Ignition/Config"
	if got := strings.Join(d.calls, ","); got != want {
		t.Errorf("calls %s\nwant  %s", got, want)
	}
}
