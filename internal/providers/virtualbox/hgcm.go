package virtualbox

// The vboxguest ioctl ABI (Linux uapi vbox_guest.h, vbox_vmmdev_types.h),
// for a 64-bit or 32-bit process. Every request starts with a header:
//
//	u32 size_in, u32 version (0x10001), u32 type (0), s32 rc,
//	u32 size_out, u32 reserved
//
// the driver's VBox status code for the request comes back in rc.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	hdrSize    = 24
	hdrVersion = 0x10001

	// Request sizes, header included. The driver checks both sizes of the
	// fixed-size requests exactly; the ioctl number encodes the larger.
	connectSize    = hdrSize + 4 + 128 // in: service location (type + name[128])
	connectOutSize = hdrSize + 4       // out: client id
	disconnectSize = hdrSize + 4       // in: client id; out: header only
	callSize       = hdrSize + 16      // client id, function, timeout, interruptible, reserved, parm count
	parmSize64     = 16                // type + packed union (size + u64 pointer)
	parmSize32     = 12

	// Service location type: an existing service on the host.
	locLocalhostExisting = 2
	serviceName          = "VBoxGuestPropSvc"

	// HGCM parameter types.
	parmTypeU32       = 1
	parmTypeU64       = 2
	parmTypeLinAddrIn = 5
	parmTypeLinAddr   = 4

	// Guest property service functions.
	fnGetProp = 1
	fnDelProp = 4

	// VBox status codes.
	vinfSuccess        = 0
	verrBufferOverflow = -41
	verrNotFound       = -78
	verrInternalError  = -225
)

// ioc is Linux's _IOC(_IOC_READ|_IOC_WRITE, 'V', nr, size).
func ioc(nr, size uint32) uint32 { return 3<<30 | size<<16 | 'V'<<8 | nr }

var (
	ioctlConnect    = ioc(4, connectSize)
	ioctlDisconnect = ioc(5, disconnectSize)
)

// ioctlCall is VBG_IOCTL_HGCM_CALL for a request of size bytes: number 8
// for 64-bit processes, 7 for 32-bit ones.
func ioctlCall(size uint32) uint32 {
	if is64 {
		return ioc(8, size)
	}
	return ioc(7, size)
}

const is64 = unsafe.Sizeof(uintptr(0)) == 8

// ioctlFunc makes the ioctl; tests replace it with a fake driver.
type ioctlFunc func(fd uintptr, req uint32, buf []byte) error

func sysIoctl(fd uintptr, req uint32, buf []byte) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(unsafe.Pointer(&buf[0])))
	if errno != 0 {
		return errno
	}
	return nil
}

// hgcm is a connection to the guest property service.
type hgcm struct {
	f      *os.File
	ioctl  ioctlFunc
	client uint32
}

func openHGCM(device string) (properties, error) {
	f, err := os.OpenFile(device, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	c, err := connectHGCM(f, sysIoctl)
	if err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

func connectHGCM(f *os.File, ioctl ioctlFunc) (*hgcm, error) {
	buf := header(connectSize, connectOutSize)
	le := binary.LittleEndian
	le.PutUint32(buf[hdrSize:], locLocalhostExisting)
	copy(buf[hdrSize+4:], serviceName)
	if err := request(f, ioctl, ioctlConnect, buf); err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", serviceName, err)
	}
	return &hgcm{f: f, ioctl: ioctl, client: le.Uint32(buf[hdrSize:])}, nil
}

// header returns a request buffer of size bytes with its header filled in.
func header(sizeIn, sizeOut uint32) []byte {
	buf := make([]byte, max(sizeIn, sizeOut))
	le := binary.LittleEndian
	le.PutUint32(buf[0:], sizeIn)
	le.PutUint32(buf[4:], hdrVersion)
	le.PutUint32(buf[16:], sizeOut)
	unanswered := int32(verrInternalError) // until the driver answers
	le.PutUint32(buf[12:], uint32(unanswered))
	return buf
}

// vboxError is a VBox status code other than success.
type vboxError int32

func (e vboxError) Error() string {
	switch e {
	case verrNotFound:
		return "VERR_NOT_FOUND"
	case verrBufferOverflow:
		return "VERR_BUFFER_OVERFLOW"
	}
	return fmt.Sprintf("VirtualBox status %d", int32(e))
}

// request makes the ioctl and returns the header's status as an error.
func request(f *os.File, ioctl ioctlFunc, req uint32, buf []byte) error {
	if err := ioctl(f.Fd(), req, buf); err != nil {
		return err
	}
	if rc := int32(binary.LittleEndian.Uint32(buf[12:])); rc != vinfSuccess {
		return vboxError(rc)
	}
	return nil
}

// parm is one HGCM call parameter; for buffers, data is passed by address.
type parm struct {
	typ  uint32
	val  uint64 // for u32/u64, in and out
	data []byte // for linear addresses
}

// call makes an HGCM call; out values of u32/u64 parameters are written
// back into parms.
func (c *hgcm) call(fn uint32, parms []parm) error {
	ps := uint32(parmSize32)
	if is64 {
		ps = parmSize64
	}
	size := callSize + uint32(len(parms))*ps
	buf := header(size, size)
	le := binary.LittleEndian
	le.PutUint32(buf[hdrSize:], c.client)
	le.PutUint32(buf[hdrSize+4:], fn)
	le.PutUint32(buf[hdrSize+8:], 0xffffffff) // no timeout
	buf[hdrSize+12] = 1                       // interruptible
	le.PutUint16(buf[hdrSize+14:], uint16(len(parms)))
	for i, p := range parms {
		off := callSize + uint32(i)*ps
		le.PutUint32(buf[off:], p.typ)
		switch p.typ {
		case parmTypeU32:
			le.PutUint32(buf[off+4:], uint32(p.val))
		case parmTypeU64:
			le.PutUint64(buf[off+4:], p.val)
		default:
			le.PutUint32(buf[off+4:], uint32(len(p.data)))
			addr := uintptr(unsafe.Pointer(unsafe.SliceData(p.data)))
			if is64 {
				le.PutUint64(buf[off+8:], uint64(addr))
			} else {
				le.PutUint32(buf[off+8:], uint32(addr))
			}
		}
	}
	err := request(c.f, c.ioctl, ioctlCall(size), buf)
	// The driver wrote through the addresses in buf: keep the buffers
	// alive until it is done.
	runtime.KeepAlive(parms)
	for i := range parms {
		off := callSize + uint32(i)*ps
		switch parms[i].typ {
		case parmTypeU32:
			parms[i].val = uint64(le.Uint32(buf[off+4:]))
		case parmTypeU64:
			parms[i].val = le.Uint64(buf[off+4:])
		}
	}
	return err
}

// cstr is s with a terminating NUL, as the service wants names.
func cstr(s string) []byte { return append([]byte(s), 0) }

func (c *hgcm) Get(name string) (string, error) {
	size := 64 << 10
	for range 4 {
		out := make([]byte, size)
		parms := []parm{
			{typ: parmTypeLinAddrIn, data: cstr(name)},
			{typ: parmTypeLinAddr, data: out}, // value NUL flags NUL
			{typ: parmTypeU64},                // timestamp
			{typ: parmTypeU32},                // size needed
		}
		err := c.call(fnGetProp, parms)
		switch {
		case err == vboxError(verrNotFound):
			return "", fmt.Errorf("%s: %w", name, errNotFound)
		case err == vboxError(verrBufferOverflow):
			size = int(parms[3].val) + 1024 // it may grow before the next call
			continue
		case err != nil:
			return "", err
		}
		if i := bytes.IndexByte(out, 0); i >= 0 {
			out = out[:i]
		}
		return string(out), nil
	}
	return "", fmt.Errorf("%s: the value kept growing", name)
}

func (c *hgcm) Delete(name string) error {
	err := c.call(fnDelProp, []parm{{typ: parmTypeLinAddrIn, data: cstr(name)}})
	if err == vboxError(verrNotFound) {
		return nil
	}
	return err
}

func (c *hgcm) Close() error {
	buf := header(disconnectSize, hdrSize)
	binary.LittleEndian.PutUint32(buf[hdrSize:], c.client)
	err := request(c.f, c.ioctl, ioctlDisconnect, buf)
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	return err
}
