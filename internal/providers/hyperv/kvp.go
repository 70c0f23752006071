package hyperv

// The guest side of Hyper-V data exchange, without hv_kvp_daemon: the
// hv_utils driver's character device /dev/vmbus/hv_kvp passes the host's
// messages to whoever holds it open (one process at a time). After a
// register message, the host sends its items as SET messages, each of
// which wants an answer; when nothing more comes for a second, they have
// all arrived. The host sends its items once a boot, so they are also
// written to the pool files hv_kvp_daemon keeps, for a later stage (or
// the daemon) to read. Message layout: struct hv_kvp_msg of Linux's
// include/uapi/linux/hyperv.h, as containers/libhvee exchanges it.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// KVPDevice is the hv_utils driver's data exchange device.
const KVPDevice = "/dev/vmbus/hv_kvp"

// PoolDir is where the pools are kept, as .kvp_pool_<pool>.
const PoolDir = "/var/lib/hyperv"

const (
	// kvpMsgSize is the size of a message, both ways.
	kvpMsgSize = 7432
	// Operations (kvp_hdr.operation).
	opSet       = 1
	opRegister1 = 100
	// Offsets in a SET message: the header (operation, pool, 2 bytes of
	// padding), then value type, key size and value size (32 bits each,
	// sizes counting the terminating NUL), the key and the value.
	offPool      = 1
	offKeySize   = 8
	offValueSize = 12
	offKey       = 16
	offValue     = offKey + keySize
	// quiet is how long the host may say nothing before all its items
	// are taken to have arrived.
	quiet = time.Second
)

// kvpConn is the device, as a small interface so that tests can play the
// host.
type kvpConn interface {
	// Wait reports whether a message is ready within timeout.
	Wait(timeout time.Duration) (bool, error)
	Read(b []byte) (int, error)
	Write(b []byte) (int, error)
	Close() error
}

// pools are the items received, by pool.
type pools map[uint8]map[string]string

// receive registers with the driver and collects the host's items.
func receive(c kvpConn) (pools, error) {
	msg := make([]byte, kvpMsgSize)
	msg[0] = opRegister1
	if n, err := c.Write(msg); err != nil || n != len(msg) {
		return nil, fmt.Errorf("registering with %s: wrote %d of %d bytes: %v", KVPDevice, n, len(msg), err)
	}
	got := pools{}
	answer := make([]byte, kvpMsgSize) // error 0 (HV_S_OK), nothing else
	buf := make([]byte, 2*kvpMsgSize)
	for {
		ready, err := c.Wait(quiet)
		if err != nil {
			return nil, fmt.Errorf("waiting on %s: %w", KVPDevice, err)
		}
		if !ready {
			return got, nil
		}
		n, err := c.Read(buf)
		if errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", KVPDevice, err)
		}
		if n < offValue+valueSize {
			return nil, fmt.Errorf("reading %s: a message of %d bytes", KVPDevice, n)
		}
		m := buf[:n]
		switch m[0] {
		case opRegister1:
			continue // the driver's answer to ours
		case opSet:
			key, err := field(m[offKey:offKey+keySize], binary.LittleEndian.Uint32(m[offKeySize:]))
			if err != nil {
				return nil, fmt.Errorf("a key from the host: %w", err)
			}
			value, err := field(m[offValue:offValue+valueSize], binary.LittleEndian.Uint32(m[offValueSize:]))
			if err != nil {
				return nil, fmt.Errorf("the value of %s: %w", key, err)
			}
			pool := m[offPool]
			if got[pool] == nil {
				got[pool] = map[string]string{}
			}
			got[pool][key] = value
		}
		if n, err := c.Write(answer); err != nil || n != len(answer) {
			return nil, fmt.Errorf("answering on %s: wrote %d of %d bytes: %v", KVPDevice, n, len(answer), err)
		}
	}
}

// field is the string of size bytes (its NUL included) at the start of b.
func field(b []byte, size uint32) (string, error) {
	if size == 0 || int(size) > len(b) {
		return "", fmt.Errorf("size %d does not fit %d bytes", size, len(b))
	}
	return cstring(b[:size]), nil
}

// writePools writes each pool as hv_kvp_daemon would, readable by root
// only: the items may be secrets.
func writePools(dir string, p pools) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for pool, items := range p {
		var raw []byte
		for _, k := range sortedKeys(items) {
			rec := make([]byte, recordSize)
			copy(rec[:keySize-1], k)
			copy(rec[keySize:recordSize-1], items[k])
			raw = append(raw, rec...)
		}
		name := filepath.Join(dir, ".kvp_pool_"+strconv.Itoa(int(pool)))
		if err := os.WriteFile(name, raw, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// device is the real driver device.
type device struct{ fd int }

func openDevice(path string) (kvpConn, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return &device{fd: fd}, nil
}

func (d *device) Wait(timeout time.Duration) (bool, error) {
	for {
		fds := []unix.PollFd{{Fd: int32(d.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(timeout.Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return n > 0, err
	}
}

func (d *device) Read(b []byte) (int, error)  { return unix.Read(d.fd, b) }
func (d *device) Write(b []byte) (int, error) { return unix.Write(d.fd, b) }
func (d *device) Close() error                { return unix.Close(d.fd) }
