// Package tftp is a TFTP client for reading files: RFC 1350 read requests
// in octet mode, with option negotiation (RFC 2347) for the block size
// (RFC 2348) and the transfer size (RFC 2349).
//
// A transfer is streamed: each DATA block is acknowledged as soon as it
// arrives and handed to the reader; only the block being read is held in
// memory. The protocol is lock-step, so a reader that stops reading stalls
// the server, which retransmits and eventually gives up.
package tftp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// DefaultBlockSize is the block size asked for unless configured:
	// a DATA packet of 1468 bytes plus its 4-byte header, 8 bytes of UDP
	// and 20 of IPv4 header fill a 1500-byte Ethernet frame.
	DefaultBlockSize = 1468
	// MinBlockSize and MaxBlockSize bound the blksize option (RFC 2348).
	MinBlockSize = 8
	MaxBlockSize = 65464
	// DefaultTimeout is how long a packet may go unanswered before it is
	// sent again.
	DefaultTimeout = 2 * time.Second
	// DefaultRetries is how often an unanswered packet is sent again
	// before the transfer fails: 5 tries in all.
	DefaultRetries = 4

	// maxRequest is the size limit RFC 2347 puts on a request packet.
	maxRequest = 512
	// MaxFilename is the longest file name a request of at most
	// maxRequest bytes can carry: opcode, name, NUL, "octet", NUL.
	MaxFilename = maxRequest - 2 - 1 - len("octet") - 1

	// plainBlockSize is the RFC 1350 block size, used without options.
	plainBlockSize = 512
)

// Error codes of ERROR packets (RFC 1350, RFC 2347).
const (
	ErrCodeUndefined      = 0
	ErrCodeNotFound       = 1
	ErrCodeAccess         = 2
	ErrCodeDiskFull       = 3
	ErrCodeIllegal        = 4
	ErrCodeUnknownTID     = 5
	ErrCodeFileExists     = 6
	ErrCodeNoSuchUser     = 7
	ErrCodeOptionsRefused = 8
)

const (
	opRRQ   = 1
	opDATA  = 3
	opACK   = 4
	opERROR = 5
	opOACK  = 6
)

var (
	// ErrNoAnswer is returned (wrapped) when the server left a packet
	// unanswered through all its retransmissions.
	ErrNoAnswer = errors.New("no answer")
	// ErrClosed is returned by Read after Close.
	ErrClosed = errors.New("tftp: transfer closed")
	// ErrProtocol is returned (wrapped) when the server breaks the
	// protocol: a malformed or unexpected packet, a block larger than
	// agreed. The client answers it with an ERROR packet.
	ErrProtocol = errors.New("tftp protocol violation")
)

// Error is an ERROR packet from the server.
type Error struct {
	Code    int
	Message string // without the terminating NUL
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("tftp error %d", e.Code)
	}
	return fmt.Sprintf("tftp error %d: %s", e.Code, e.Message)
}

// SizeError is a transfer whose length differs from the transfer size the
// server announced (tsize). Got is how many bytes had arrived when the
// difference showed: at the end for a short transfer, at the first block
// past the announced size for a long one.
type SizeError struct {
	Announced, Got int64
}

func (e *SizeError) Error() string {
	if e.Got > e.Announced {
		return fmt.Sprintf("transfer ran to %d bytes, past the %d the server announced", e.Got, e.Announced)
	}
	return fmt.Sprintf("transfer ended after %d bytes, but the server announced %d", e.Got, e.Announced)
}

// Config tunes a transfer. The zero value asks for DefaultBlockSize with
// DefaultTimeout and DefaultRetries.
type Config struct {
	// BlockSize is the blksize to ask for, MinBlockSize to MaxBlockSize;
	// 0 means DefaultBlockSize. The server may choose a smaller one, or
	// ignore options and use 512.
	BlockSize int
	// Timeout is how long each packet may go unanswered before it is
	// sent again; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retries is how often an unanswered packet is sent again before the
	// transfer fails with ErrNoAnswer; 0 means DefaultRetries, a negative
	// value none. A silent server is given up after about
	// Timeout × (Retries+1).
	Retries int
}

func (c Config) normalize() (Config, error) {
	switch {
	case c.BlockSize == 0:
		c.BlockSize = DefaultBlockSize
	case c.BlockSize < MinBlockSize || c.BlockSize > MaxBlockSize:
		return c, fmt.Errorf("tftp: block size %d is outside %d to %d", c.BlockSize, MinBlockSize, MaxBlockSize)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	return c, nil
}

// Get asks server for file and returns the transfer once the server has
// answered: with the first block, or with an OACK (which Get accepts).
// ctx governs the whole transfer, reads included; when it ends, a blocked
// Read returns its error at once and the server is sent an ERROR packet.
//
// Get asks for the blksize and tsize options. A server that refuses them
// (ERROR 8), or answers with options Get cannot accept, is asked once more
// without options. A request is kept within 512 bytes: options are left
// out when the file name leaves no room for them.
//
// An ERROR packet from the server is returned as an *Error, a server that
// stays silent as an error wrapping ErrNoAnswer.
func Get(ctx context.Context, server netip.AddrPort, file string, cfg Config) (*Transfer, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	switch {
	case file == "":
		return nil, errors.New("tftp: empty file name")
	case strings.IndexByte(file, 0) >= 0:
		return nil, errors.New("tftp: file name contains a NUL byte")
	case len(file) > MaxFilename:
		return nil, fmt.Errorf("tftp: file name is %d bytes long, more than the %d a request can carry", len(file), MaxFilename)
	}
	server = netip.AddrPortFrom(server.Addr().Unmap(), server.Port())
	if !server.Addr().IsValid() || server.Port() == 0 {
		return nil, fmt.Errorf("tftp: bad server address %v", server)
	}
	t, err := get(ctx, server, file, cfg, true)
	if errors.Is(err, errTryPlain) {
		t, err = get(ctx, server, file, cfg, false)
	}
	return t, err
}

// errTryPlain wraps the failure of a request with options that a request
// without them may avoid.
var errTryPlain = errors.New("option negotiation failed")

// request builds a read request, with options when withOptions is set and
// they fit; it reports whether they are in.
func request(file string, blockSize int, withOptions bool) ([]byte, bool) {
	p := binary.BigEndian.AppendUint16(nil, opRRQ)
	p = append(p, file...)
	p = append(p, 0)
	p = append(p, "octet\x00"...)
	if !withOptions {
		return p, false
	}
	opts := "blksize\x00" + strconv.Itoa(blockSize) + "\x00tsize\x000\x00"
	if len(p)+len(opts) > maxRequest {
		return p, false
	}
	return append(p, opts...), true
}

func get(ctx context.Context, server netip.AddrPort, file string, cfg Config, withOptions bool) (*Transfer, error) {
	rrq, withOptions := request(file, cfg.BlockSize, withOptions)
	bufSize := plainBlockSize
	if withOptions {
		bufSize = cfg.BlockSize
	}
	// Room for the header, the largest block agreed and one byte more, so
	// that an oversized DATA packet shows; at least room for an OACK or
	// ERROR packet of ordinary length.
	bufSize = max(4+bufSize+1, 4+plainBlockSize+1)

	network := "udp4"
	if server.Addr().Is6() {
		network = "udp6"
	}
	conn, err := net.ListenUDP(network, nil)
	if err != nil {
		return nil, fmt.Errorf("tftp: %w", err)
	}
	tctx, cancel := context.WithCancelCause(ctx)
	t := &Transfer{
		parent: ctx,
		cancel: cancel,
		s: &session{
			ctx:     tctx,
			conn:    conn,
			server:  server,
			timeout: cfg.Timeout,
			retries: cfg.Retries,
			buf:     make([]byte, bufSize),
		},
		blockSize: plainBlockSize,
	}
	if withOptions {
		t.requested = cfg.BlockSize
	}
	// Ending ctx (or Close) interrupts a blocked read; session.next
	// checks ctx after every deadline it sets, so it cannot miss this.
	t.stop = context.AfterFunc(tctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })

	if err := t.s.send(rrq); err != nil {
		t.release()
		return nil, fmt.Errorf("tftp: sending request: %w", err)
	}
	p, err := t.s.next()
	if err != nil {
		t.interrupted(err)
		return nil, t.err
	}
	switch opcode(p) {
	case opERROR:
		e := parseError(p)
		t.release()
		if e.Code == ErrCodeOptionsRefused && withOptions {
			return nil, fmt.Errorf("%w: %w", errTryPlain, e)
		}
		return nil, e
	case opOACK:
		if !withOptions {
			t.fail(fmt.Errorf("%w: OACK to a request without options", ErrProtocol), ErrCodeOptionsRefused, "no options were requested")
			return nil, t.err
		}
		if err := t.accept(p[2:]); err != nil {
			t.fail(err, ErrCodeOptionsRefused, err.Error())
			return nil, fmt.Errorf("%w: %w", errTryPlain, err)
		}
		if err := t.s.send(ack(0)); err != nil {
			t.fail(fmt.Errorf("tftp: %w", err), ErrCodeUndefined, "")
			return nil, t.err
		}
		t.acked = true
		return t, nil
	case opDATA:
		if len(p) < 4 || block(p) != 1 {
			t.fail(fmt.Errorf("%w: the first DATA packet is not block 1", ErrProtocol), ErrCodeIllegal, "expected block 1")
			return nil, t.err
		}
		// The server ignored the options: 512-byte blocks, size unknown.
		t.data(p)
		if t.err != nil {
			return nil, t.err
		}
		return t, nil
	default:
		t.fail(fmt.Errorf("%w: unexpected packet %s in answer to a request", ErrProtocol, describe(p)), ErrCodeIllegal, "unexpected packet")
		return nil, t.err
	}
}

// Transfer is a file being received. Read is not safe for concurrent use,
// but Close may be called while a Read is under way: it interrupts it.
type Transfer struct {
	parent context.Context
	cancel context.CancelCauseFunc
	stop   func() bool // ends the AfterFunc interrupting reads

	mu        sync.Mutex
	s         *session // nil once released
	requested int      // blksize asked for; 0 without options
	blockSize int
	size      int64
	sized     bool
	block     uint16 // the last block received (and acknowledged)
	acked     bool   // an ACK has been sent: a duplicate may be re-acknowledged
	total     int64
	pending   []byte // received, not yet read; aliases s.buf
	done      bool   // the last block arrived
	err       error  // sticky; pending is delivered first
}

// BlockSize is the block size in use: the one the server agreed to, or 512
// when it ignored the options.
func (t *Transfer) BlockSize() int { return t.blockSize }

// Size is the transfer size the server announced (tsize), if it did. A
// transfer that ends at any other length fails with a *SizeError.
func (t *Transfer) Size() (int64, bool) { return t.size, t.sized }

// Read reads the file as it arrives. It returns io.EOF after the last
// block; after an error, that error again.
func (t *Transfer) Read(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.pending) == 0 {
		if t.err != nil {
			return 0, t.err
		}
		if t.done {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		t.step()
	}
	n := copy(p, t.pending)
	t.pending = t.pending[n:]
	return n, nil
}

// Close ends the transfer. Before the last block arrived, that aborts it:
// the server is sent an ERROR packet.
func (t *Transfer) Close() error {
	t.cancel(ErrClosed)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.s != nil {
		t.fail(ErrClosed, ErrCodeUndefined, "transfer abandoned by the client")
	}
	t.pending = nil
	if t.err == nil {
		t.err = ErrClosed
	}
	return nil
}

// step waits for the next packet of the transfer and acts on it.
func (t *Transfer) step() {
	p, err := t.s.next()
	if err != nil {
		t.interrupted(err)
		return
	}
	switch opcode(p) {
	case opDATA:
		if len(p) < 4 {
			t.fail(fmt.Errorf("%w: DATA packet of %d bytes", ErrProtocol, len(p)), ErrCodeIllegal, "short DATA packet")
			return
		}
		t.data(p)
	case opOACK:
		// A resent OACK: our ACK of it was lost. Anything else is stale.
		if t.requested > 0 && t.block == 0 && t.acked {
			t.s.repeat()
		}
	case opERROR:
		t.fail(parseError(p), -1, "")
	default:
		t.fail(fmt.Errorf("%w: unexpected packet %s during the transfer", ErrProtocol, describe(p)), ErrCodeIllegal, "unexpected packet")
	}
}

// data handles a DATA packet p (at least 4 bytes) from the server.
func (t *Transfer) data(p []byte) {
	n, payload := block(p), p[4:]
	switch n {
	case t.block + 1: // wraps from 65535 to 0
	case t.block:
		// A duplicate: the server did not get our ACK (or the network
		// doubled the packet). Acknowledge it again.
		if t.acked {
			t.s.repeat()
		}
		return
	default:
		return // stale
	}
	if len(payload) > t.blockSize {
		t.fail(fmt.Errorf("%w: block %d carries more than the %d-byte block size", ErrProtocol, n, t.blockSize), ErrCodeIllegal, "block larger than the block size")
		return
	}
	t.block = n
	t.total += int64(len(payload))
	if t.sized && t.total > t.size {
		t.fail(&SizeError{Announced: t.size, Got: t.total}, ErrCodeUndefined, "more data than the announced transfer size")
		return
	}
	last := len(payload) < t.blockSize
	t.pending = payload
	// Acknowledge at once, so the server sends the next block while
	// this one is read.
	if err := t.s.send(ack(n)); err != nil {
		t.fail(fmt.Errorf("tftp: %w", err), ErrCodeUndefined, "")
		return
	}
	t.acked = true
	if !last {
		return
	}
	// The transfer is over as far as the server goes (so it got its ACK);
	// a length other than the announced one fails it here, after the
	// bytes that came.
	if t.sized && t.total != t.size {
		t.fail(&SizeError{Announced: t.size, Got: t.total}, -1, "")
		return
	}
	t.done = true
	t.release()
}

// accept takes the options of an OACK (the bytes after the opcode).
func (t *Transfer) accept(b []byte) error {
	if len(b) == 0 {
		return nil // no options: as without them
	}
	if b[len(b)-1] != 0 {
		return fmt.Errorf("%w: OACK not NUL-terminated", ErrProtocol)
	}
	fields := strings.Split(string(b[:len(b)-1]), "\x00")
	if len(fields)%2 != 0 {
		return fmt.Errorf("%w: OACK option %q has no value", ErrProtocol, fields[len(fields)-1])
	}
	seen := map[string]bool{}
	for i := 0; i < len(fields); i += 2 {
		name, value := strings.ToLower(fields[i]), fields[i+1]
		if seen[name] {
			return fmt.Errorf("%w: OACK repeats option %q", ErrProtocol, name)
		}
		seen[name] = true
		switch name {
		case "blksize":
			n, err := strconv.Atoi(value)
			if err != nil || n < MinBlockSize || n > t.requested {
				return fmt.Errorf("%w: OACK blksize %q, asked for %d", ErrProtocol, value, t.requested)
			}
			t.blockSize = n
		case "tsize":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("%w: OACK tsize %q", ErrProtocol, value)
			}
			t.size, t.sized = n, true
		default:
			return fmt.Errorf("%w: OACK has option %q, which was not requested", ErrProtocol, name)
		}
	}
	return nil
}

// interrupted handles an error from session.next.
func (t *Transfer) interrupted(err error) {
	msg := "transfer abandoned by the client"
	switch {
	case errors.Is(err, errStopped):
		err = ErrClosed
		if perr := t.parent.Err(); perr != nil {
			err, msg = perr, "transfer cancelled by the client"
		}
	case errors.Is(err, ErrNoAnswer):
		msg = "timed out"
	}
	t.fail(err, ErrCodeUndefined, msg)
}

// fail ends the transfer with err. When code is not negative and the
// server has answered, it is told with an ERROR packet.
func (t *Transfer) fail(err error, code int, msg string) {
	if t.err == nil {
		t.err = err
	}
	if t.s != nil && code >= 0 && t.s.locked {
		t.s.sendError(t.s.peer, code, msg)
	}
	t.release()
}

// release frees the socket and the context watch.
func (t *Transfer) release() {
	if t.s == nil {
		return
	}
	t.stop()
	t.s.conn.Close()
	t.cancel(nil)
	t.s = nil
}

// errStopped is session.next's error when the transfer's context ended.
var errStopped = errors.New("stopped")

// session is the UDP side of a transfer: sending, retransmitting and
// receiving packets from the server's transfer ID.
type session struct {
	ctx     context.Context
	conn    *net.UDPConn
	server  netip.AddrPort // where the request went
	peer    netip.AddrPort // the server's transfer ID, once locked
	locked  bool
	last    []byte // the packet to resend on a timeout
	sends   int    // how often last has been sent
	timeout time.Duration
	retries int
	buf     []byte
}

func (s *session) to() netip.AddrPort {
	if s.locked {
		return s.peer
	}
	return s.server
}

// send sends a new packet, to be resent if the server does not answer.
func (s *session) send(p []byte) error {
	s.last = p
	s.sends = 1
	_, err := s.conn.WriteToUDPAddrPort(p, s.to())
	return err
}

// repeat sends the last packet again in answer to a duplicate. It does not
// count as a retransmission.
func (s *session) repeat() {
	_, _ = s.conn.WriteToUDPAddrPort(s.last, s.to()) // a loss is like any other
}

func (s *session) sendError(to netip.AddrPort, code int, msg string) {
	p := binary.BigEndian.AppendUint16(nil, opERROR)
	p = binary.BigEndian.AppendUint16(p, uint16(code))
	p = append(p, msg...)
	p = append(p, 0)
	_, _ = s.conn.WriteToUDPAddrPort(p, to) // best effort: nothing waits for it
}

// next returns the next packet from the server, resending the last packet
// each time the timeout passes without one. The first packet from the
// server's address fixes its transfer ID; packets from any other source
// are answered with ERROR 5 and otherwise ignored. They do not extend the
// timeout. The packet aliases s.buf.
func (s *session) next() ([]byte, error) {
	deadline := time.Now().Add(s.timeout)
	for {
		if err := s.conn.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
		// After the deadline is set: an interrupt that comes later sets
		// its own, which wins.
		if s.ctx.Err() != nil {
			return nil, errStopped
		}
		n, from, err := s.conn.ReadFromUDPAddrPort(s.buf)
		if err != nil {
			if s.ctx.Err() != nil {
				return nil, errStopped
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, fmt.Errorf("tftp: %w", err)
			}
			if s.sends > s.retries {
				return nil, fmt.Errorf("%w after %d tries, %v apart", ErrNoAnswer, s.sends, s.timeout)
			}
			s.sends++
			if _, err := s.conn.WriteToUDPAddrPort(s.last, s.to()); err != nil {
				return nil, fmt.Errorf("tftp: %w", err)
			}
			deadline = time.Now().Add(s.timeout)
			continue
		}
		p := s.buf[:n]
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if !s.fromPeer(from) {
			if opcode(p) != opERROR { // never answer an error with one
				s.sendError(from, ErrCodeUnknownTID, "unknown transfer ID")
			}
			continue
		}
		return p, nil
	}
}

// fromPeer reports whether a packet from from belongs to the transfer,
// locking onto the server's transfer ID with its first packet.
func (s *session) fromPeer(from netip.AddrPort) bool {
	if s.locked {
		return from == s.peer
	}
	if from.Addr().WithZone("") != s.server.Addr().WithZone("") {
		return false
	}
	s.peer, s.locked = from, true
	return true
}

func opcode(p []byte) int {
	if len(p) < 2 {
		return -1
	}
	return int(binary.BigEndian.Uint16(p))
}

func block(p []byte) uint16 { return binary.BigEndian.Uint16(p[2:]) }

func ack(n uint16) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, opACK), n)
}

func parseError(p []byte) *Error {
	e := &Error{Code: -1}
	if len(p) >= 4 {
		e.Code = int(binary.BigEndian.Uint16(p[2:]))
		msg, _, _ := strings.Cut(string(p[4:]), "\x00")
		e.Message = strings.TrimSpace(strings.ToValidUTF8(msg, "?"))
	}
	return e
}

func describe(p []byte) string {
	if len(p) < 2 {
		return fmt.Sprintf("of %d bytes", len(p))
	}
	return fmt.Sprintf("with opcode %d", opcode(p))
}
