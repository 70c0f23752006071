package tftp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests run the client against a hand-written responder on a loopback
// address: it answers each read request from a socket of its own (a new
// transfer ID) and does exactly what a test tells it, misbehaving included.

type rrq struct {
	file, mode string
	opts       map[string]string // names lower-cased
	raw        []byte
	from       netip.AddrPort
}

type responder struct {
	addr netip.AddrPort

	mu    sync.Mutex
	reqs  []rrq
	conns []*net.UDPConn
}

// startResponder listens on ip and calls serve for each read request, the
// nth from 1, with a peer on a fresh socket.
func startResponder(t *testing.T, ip string, serve func(n int, r rrq, p *peer)) *responder {
	t.Helper()
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		if ip == "::1" {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	rs := &responder{addr: l.LocalAddr().(*net.UDPAddr).AddrPort()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		rs.mu.Lock()
		for _, c := range rs.conns {
			c.Close()
		}
		rs.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		buf := make([]byte, 2048)
		for n := 1; ; n++ {
			m, from, err := l.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			r, err := parseRRQ(buf[:m])
			if err != nil {
				t.Errorf("responder: %v", err)
				continue
			}
			r.from = from
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
			if err != nil {
				t.Errorf("responder: %v", err)
				return
			}
			rs.mu.Lock()
			rs.reqs = append(rs.reqs, r)
			rs.conns = append(rs.conns, c)
			rs.mu.Unlock()
			p := &peer{t: t, c: c, to: from, acks: map[uint16]int{}}
			wg.Go(func() { serve(n, r, p) })
		}
	})
	return rs
}

func (rs *responder) requests() []rrq {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]rrq(nil), rs.reqs...)
}

func parseRRQ(p []byte) (rrq, error) {
	if len(p) < 2 || binary.BigEndian.Uint16(p) != opRRQ || p[len(p)-1] != 0 {
		return rrq{}, errors.New("not a read request: " + strconv.Quote(string(p)))
	}
	f := strings.Split(string(p[2:len(p)-1]), "\x00")
	if len(f) < 2 || len(f)%2 != 0 {
		return rrq{}, errors.New("malformed read request: " + strconv.Quote(string(p)))
	}
	r := rrq{file: f[0], mode: f[1], opts: map[string]string{}, raw: bytes.Clone(p)}
	for i := 2; i < len(f); i += 2 {
		r.opts[strings.ToLower(f[i])] = f[i+1]
	}
	return r, nil
}

// peer is the responder's side of one transfer.
type peer struct {
	t    *testing.T
	c    *net.UDPConn
	to   netip.AddrPort // the client
	acks map[uint16]int // ACKs received, by block
	errs []*Error       // ERROR packets received
}

func (p *peer) send(b []byte) {
	if _, err := p.c.WriteToUDPAddrPort(b, p.to); err != nil && !errors.Is(err, net.ErrClosed) {
		p.t.Errorf("responder: %v", err)
	}
}

// recv returns the next packet from the client, or nil when none comes
// within d (or the socket is closed). ACKs and ERRORs are also counted.
func (p *peer) recv(d time.Duration) []byte {
	buf := make([]byte, 2048)
	p.c.SetReadDeadline(time.Now().Add(d))
	for {
		n, from, err := p.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return nil
		}
		if from != p.to {
			p.t.Errorf("responder: packet from %v, not the client %v", from, p.to)
			continue
		}
		b := buf[:n]
		switch opcode(b) {
		case opACK:
			p.acks[block(b)]++
		case opERROR:
			p.errs = append(p.errs, parseError(b))
		}
		return b
	}
}

// exchange sends b until the client acknowledges block want (resending
// every second, for 5s at most: tests that need a resend make their own).
// It reports false when the client sent an ERROR or never acknowledged.
func (p *peer) exchange(b []byte, want uint16) bool {
	for range 5 {
		p.send(b)
		deadline := time.Now().Add(time.Second)
		for {
			got := p.recv(time.Until(deadline))
			if got == nil {
				break // resend
			}
			switch {
			case opcode(got) == opACK && block(got) == want:
				return true
			case opcode(got) == opERROR:
				return false
			}
		}
	}
	return false
}

// sendFile sends data in blocks of size, lock-step, ending with a short
// (perhaps empty) block; it reports whether all were acknowledged.
func (p *peer) sendFile(data []byte, size int) bool {
	for blk := uint16(1); ; blk++ { // wraps to 0 after 65535
		n := min(size, len(data))
		if !p.exchange(dataPkt(blk, data[:n]), blk) {
			return false
		}
		data = data[n:]
		if n < size {
			return true
		}
	}
}

// await waits up to d for an ERROR packet from the client.
func (p *peer) awaitError(d time.Duration) *Error {
	deadline := time.Now().Add(d)
	for n := len(p.errs); len(p.errs) == n; {
		if p.recv(time.Until(deadline)) == nil {
			return nil
		}
	}
	return p.errs[len(p.errs)-1]
}

func dataPkt(blk uint16, b []byte) []byte {
	p := binary.BigEndian.AppendUint16(nil, opDATA)
	p = binary.BigEndian.AppendUint16(p, blk)
	return append(p, b...)
}

func oackPkt(kv ...string) []byte {
	p := binary.BigEndian.AppendUint16(nil, opOACK)
	for _, s := range kv {
		p = append(append(p, s...), 0)
	}
	return p
}

func errorPkt(code uint16, msg string) []byte {
	p := binary.BigEndian.AppendUint16(nil, opERROR)
	p = binary.BigEndian.AppendUint16(p, code)
	return append(append(p, msg...), 0)
}

func random(n int, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1}).Read(b)
	return b
}

// fetch reads file whole.
func fetch(t *testing.T, addr netip.AddrPort, file string, cfg Config) ([]byte, *Transfer, error) {
	t.Helper()
	tr, err := Get(context.Background(), addr, file, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer tr.Close()
	got, err := io.ReadAll(tr)
	return got, tr, err
}

func TestNegotiatesOptions(t *testing.T) {
	data := random(10_000, 1)
	rs := startResponder(t, "127.0.0.1", func(_ int, r rrq, p *peer) {
		size, _ := strconv.Atoi(r.opts["blksize"])
		if !p.exchange(oackPkt("blksize", r.opts["blksize"], "tsize", strconv.Itoa(len(data))), 0) {
			return
		}
		p.sendFile(data, size)
	})
	for _, tc := range []struct{ ask, want int }{{0, DefaultBlockSize}, {9000, 9000}, {MaxBlockSize, MaxBlockSize}} {
		got, tr, err := fetch(t, rs.addr, "dir/file.bin", Config{BlockSize: tc.ask})
		if err != nil {
			t.Fatalf("blksize %d: %v", tc.ask, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("blksize %d: got %d bytes, not the file", tc.ask, len(got))
		}
		if tr.BlockSize() != tc.want {
			t.Errorf("blksize %d: BlockSize() = %d", tc.ask, tr.BlockSize())
		}
		if size, ok := tr.Size(); !ok || size != int64(len(data)) {
			t.Errorf("blksize %d: Size() = %d, %v", tc.ask, size, ok)
		}
	}
	for i, r := range rs.requests() {
		want := map[string]string{"blksize": strconv.Itoa([]int{DefaultBlockSize, 9000, MaxBlockSize}[i]), "tsize": "0"}
		if r.file != "dir/file.bin" || r.mode != "octet" || len(r.opts) != 2 || r.opts["blksize"] != want["blksize"] || r.opts["tsize"] != "0" {
			t.Errorf("request %d: %q %q %v, want dir/file.bin octet %v", i+1, r.file, r.mode, r.opts, want)
		}
	}
}

func TestServerIgnoresOptions(t *testing.T) {
	data := random(512*4+7, 2)
	rs := startResponder(t, "127.0.0.1", func(_ int, _ rrq, p *peer) {
		p.sendFile(data, 512) // as RFC 1350: no OACK
	})
	got, tr, err := fetch(t, rs.addr, "f", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("got %d bytes, not the file", len(got))
	}
	if tr.BlockSize() != 512 {
		t.Errorf("BlockSize() = %d, want 512", tr.BlockSize())
	}
	if _, ok := tr.Size(); ok {
		t.Error("Size() known, but the server sent no tsize")
	}
	if n := len(rs.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestServerChoosesSmallerBlockSize(t *testing.T) {
	data := random(700*3+100, 3)
	rs := startResponder(t, "127.0.0.1", func(_ int, _ rrq, p *peer) {
		if p.exchange(oackPkt("BLKSIZE", "700"), 0) { // names are case-insensitive
			p.sendFile(data, 700)
		}
	})
	got, tr, err := fetch(t, rs.addr, "f", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("got %d bytes, not the file", len(got))
	}
	if tr.BlockSize() != 700 {
		t.Errorf("BlockSize() = %d, want 700", tr.BlockSize())
	}
	if _, ok := tr.Size(); ok {
		t.Error("Size() known, but the OACK had no tsize")
	}
}

func TestOptionsRefusedRetriesWithout(t *testing.T) {
	data := random(1500, 4)
	var always bool
	var mu sync.Mutex
	rs := startResponder(t, "127.0.0.1", func(_ int, r rrq, p *peer) {
		mu.Lock()
		refuse := always || len(r.opts) > 0
		mu.Unlock()
		if refuse {
			p.send(errorPkt(ErrCodeOptionsRefused, "options not supported"))
			return
		}
		p.sendFile(data, 512)
	})
	got, tr, err := fetch(t, rs.addr, "f", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) || tr.BlockSize() != 512 {
		t.Errorf("got %d bytes in blocks of %d", len(got), tr.BlockSize())
	}
	reqs := rs.requests()
	if len(reqs) != 2 || len(reqs[0].opts) != 2 || len(reqs[1].opts) != 0 || reqs[1].file != "f" {
		t.Fatalf("requests %v, want one with options, then one without", reqs)
	}

	// A server that refuses even the plain request: its error stands.
	mu.Lock()
	always = true
	mu.Unlock()
	_, err = Get(context.Background(), rs.addr, "g", Config{})
	var e *Error
	if !errors.As(err, &e) || e.Code != ErrCodeOptionsRefused || e.Message != "options not supported" {
		t.Fatalf("got %v, want the server's error 8", err)
	}
	if n := len(rs.requests()); n != 4 {
		t.Errorf("%d requests in all, want 4 (one retry without options)", n)
	}
}

func TestUnacceptableOACK(t *testing.T) {
	for _, oack := range [][]byte{
		oackPkt("blksize", "2000"),                     // more than asked for
		oackPkt("blksize", "4"),                        // less than 8
		oackPkt("blksize", "1468", "windowsize", "4"),  // not asked for
		oackPkt("tsize", "-1"),                         // negative
		oackPkt("tsize", "10", "tsize", "10"),          // repeated
		oackPkt("blksize"),                             // no value
		append(oackPkt("blksize", "1468"), "tsize"...), // unterminated
	} {
		data := random(600, 5)
		refused := make(chan *Error, 1)
		rs := startResponder(t, "127.0.0.1", func(n int, _ rrq, p *peer) {
			if n == 1 {
				p.send(oack)
				refused <- p.awaitError(2 * time.Second)
				return
			}
			p.sendFile(data, 512)
		})
		got, tr, err := fetch(t, rs.addr, "f", Config{})
		if err != nil || !bytes.Equal(got, data) || tr.BlockSize() != 512 {
			t.Errorf("OACK %q: got %d bytes, %v", oack, len(got), err)
		}
		if e := <-refused; e == nil || e.Code != ErrCodeOptionsRefused {
			t.Errorf("OACK %q: server got %v, want an error 8", oack, e)
		}
		if reqs := rs.requests(); len(reqs) != 2 || len(reqs[1].opts) != 0 {
			t.Errorf("OACK %q: requests %v, want a second one without options", oack, reqs)
		}
	}
}

func TestDuplicateData(t *testing.T) {
	data := random(512*5+100, 6)
	acks := make(chan map[uint16]int, 1)
	rs := startResponder(t, "127.0.0.1", func(_ int, _ rrq, p *peer) {
		defer func() { acks <- p.acks }()
		rest := data
		for blk := uint16(1); ; blk++ {
			n := min(512, len(rest))
			pkt := dataPkt(blk, rest[:n])
			p.send(pkt) // every block twice
			if !p.exchange(pkt, blk) {
				return
			}
			rest = rest[n:]
			if n < 512 {
				break
			}
		}
		p.recv(100 * time.Millisecond) // a last duplicate ACK, if any
	})
	got, _, err := fetch(t, rs.addr, "f", Config{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, want the %d of the file once", len(got), len(data))
	}
	// Each copy of a block is acknowledged; the client stops reading after
	// the first copy of the last block.
	a := <-acks
	for blk := uint16(1); blk <= 5; blk++ {
		if a[blk] != 2 {
			t.Errorf("block %d acknowledged %d times, want 2", blk, a[blk])
		}
	}
	if a[6] != 1 {
		t.Errorf("last block acknowledged %d times, want 1", a[6])
	}
}

func TestPacketFromWrongTID(t *testing.T) {
	data := random(512*4+1, 7)
	intruderGot := make(chan *Error, 1)
	rs := startResponder(t, "127.0.0.1", func(_ int, _ rrq, p *peer) {
		defer close(intruderGot) // nil if the transfer ended early
		intruder, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Error(err)
			return
		}
		defer intruder.Close()
		rest := data
		for blk := uint16(1); ; blk++ {
			if blk == 3 {
				// From another port: a stray packet with the block the
				// client waits for.
				intruder.WriteToUDPAddrPort(dataPkt(3, bytes.Repeat([]byte("X"), 512)), p.to)
				buf := make([]byte, 100)
				intruder.SetReadDeadline(time.Now().Add(3 * time.Second))
				n, _, err := intruder.ReadFromUDPAddrPort(buf)
				if err != nil || opcode(buf[:n]) != opERROR {
					intruderGot <- nil
				} else {
					intruderGot <- parseError(buf[:n])
				}
			}
			n := min(512, len(rest))
			if !p.exchange(dataPkt(blk, rest[:n]), blk) {
				return
			}
			rest = rest[n:]
			if n < 512 {
				return
			}
		}
	})
	got, _, err := fetch(t, rs.addr, "f", Config{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("got %d bytes, not the file (the stray block taken?)", len(got))
	}
	if e := <-intruderGot; e == nil || e.Code != ErrCodeUnknownTID {
		t.Errorf("the stray packet's sender got %v, want an error 5", e)
	}
}

func TestLostACK(t *testing.T) {
	data := random(512*3+10, 8)
	acks := make(chan map[uint16]int, 1)
	rs := startResponder(t, "127.0.0.1", func(_ int, _ rrq, p *peer) {
		defer func() { acks <- p.acks }()
		if !p.exchange(dataPkt(1, data[:512]), 1) {
			return
		}
		// Pretend the ACK of block 2 was lost: send it again, as a server
		// does after its timeout.
		p.send(dataPkt(2, data[512:1024]))
		if got := p.recv(2 * time.Second); got == nil || opcode(got) != opACK || block(got) != 2 {
			t.Errorf("no ACK 2: %q", got)
			return
		}
		time.Sleep(50 * time.Millisecond)
		if !p.exchange(dataPkt(2, data[512:1024]), 2) ||
			!p.exchange(dataPkt(3, data[1024:1536]), 3) ||
			!p.exchange(dataPkt(4, data[1536:]), 4) {
			return
		}
	})
	// The client's own timeout is far off: only the server's resend helps.
	got, _, err := fetch(t, rs.addr, "f", Config{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("got %d bytes, not the file", len(got))
	}
	if a := <-acks; a[2] != 2 || a[1] != 1 || a[3] != 1 || a[4] != 1 {
		t.Errorf("ACKs by block %v, want block 2 twice, the others once", a)
	}
}

func TestClientRetransmits(t *testing.T) {
	data := random(512*2+1, 9)
	const timeout = 100 * time.Millisecond
	gap := make(chan time.Duration, 1)
	rs := startResponder(t, "127.0.0.1", func(n int, _ rrq, p *peer) {
		if n == 1 {
			return // the request is "lost"; the client sends it again
		}
		defer close(gap)
		if !p.exchange(dataPkt(1, data[:512]), 1) {
			return
		}
		// Block 2 is "lost": the client must send ACK 1 again.
		start := time.Now()
		if got := p.recv(5 * time.Second); got == nil || opcode(got) != opACK || block(got) != 1 {
			t.Errorf("got %q, want ACK 1 again", got)
			return
		}
		gap <- time.Since(start)
		if p.exchange(dataPkt(2, data[512:1024]), 2) {
			p.exchange(dataPkt(3, data[1024:]), 3)
		}
	})
	got, _, err := fetch(t, rs.addr, "f", Config{Timeout: timeout, Retries: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("got %d bytes, not the file", len(got))
	}
	reqs := rs.requests()
	if len(reqs) != 2 || reqs[0].from != reqs[1].from || !bytes.Equal(reqs[0].raw, reqs[1].raw) {
		t.Errorf("requests %v, want the same one twice from the same port", reqs)
	}
	if d, ok := <-gap; !ok || d < timeout/2 || d > 20*timeout {
		t.Errorf("ACK 1 resent after %v, with a timeout of %v", d, timeout)
	}
}

func TestBlockNumberRollover(t *testing.T) {
	// 8-byte blocks: 75,001 of them, so block numbers pass 65535 and
	// start again at 0.
	data := random(600_000, 10)
	var sawZero bool
	done := make(chan struct{})
	rs := startResponder(t, "127.0.0.1", func(_ int, r rrq, p *peer) {
		defer close(done)
		if r.opts["blksize"] != "8" || !p.exchange(oackPkt("blksize", "8", "tsize", strconv.Itoa(len(data))), 0) {
			t.Errorf("request %v", r.opts)
			return
		}
		rest := data
		for i := 1; ; i++ {
			n := min(8, len(rest))
			blk := uint16(i)
			if i > 65535 && blk == 0 {
				sawZero = true
			}
			if !p.exchange(dataPkt(blk, rest[:n]), blk) {
				t.Errorf("block %d (number %d) not acknowledged", i, blk)
				return
			}
			rest = rest[n:]
			if n < 8 {
				return
			}
		}
	})
	got, tr, err := fetch(t, rs.addr, "f", Config{BlockSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if !sawZero {
		t.Error("block numbers never wrapped")
	}
	if tr.BlockSize() != 8 || !bytes.Equal(got, data) {
		t.Errorf("got %d bytes in blocks of %d, want the file", len(got), tr.BlockSize())
	}
}

func TestLastBlockFull(t *testing.T) {
	data := random(3*512, 11)
	for _, tc := range []struct {
		name  string
		oack  []byte // nil: the server ignores the options
		empty bool   // the server ends with an empty block
	}{
		{"plain", nil, true},
		{"tsize", oackPkt("blksize", "512", "tsize", "1536"), true},
		{"no empty block", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acks := make(chan map[uint16]int, 1)
			rs := startResponder(t, "127.0.0.1", func(_ int, _ rrq, p *peer) {
				defer func() { acks <- p.acks }()
				if tc.oack != nil && !p.exchange(tc.oack, 0) {
					return
				}
				for blk := uint16(1); blk <= 3; blk++ {
					if !p.exchange(dataPkt(blk, data[(blk-1)*512:blk*512]), blk) {
						return
					}
				}
				if tc.empty {
					p.exchange(dataPkt(4, nil), 4)
				} else {
					p.awaitError(2 * time.Second) // the client gives up
				}
			})
			got, _, err := fetch(t, rs.addr, "f", Config{Timeout: 100 * time.Millisecond, Retries: 1})
			a := <-acks
			if !bytes.Equal(got, data) {
				t.Errorf("got %d bytes, want %d", len(got), len(data))
			}
			if !tc.empty {
				// A full block is never the last: the client waits on.
				if !errors.Is(err, ErrNoAnswer) {
					t.Errorf("got %v, want ErrNoAnswer", err)
				}
				if a[3] != 2 {
					t.Errorf("ACK 3 sent %d times, want 2 (retries 1)", a[3])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a[4] != 1 {
				t.Errorf("the empty block 4 acknowledged %d times, want 1", a[4])
			}
		})
	}
}

func TestNoAnswer(t *testing.T) {
	const timeout = 60 * time.Millisecond
	rs := startResponder(t, "127.0.0.1", func(int, rrq, *peer) {})
	start := time.Now()
	_, err := Get(context.Background(), rs.addr, "f", Config{Timeout: timeout, Retries: 2})
	d := time.Since(start)
	if !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("got %v, want ErrNoAnswer", err)
	}
	if d < 3*timeout || d > 3*timeout+time.Second {
		t.Errorf("gave up after %v, want about 3 × %v", d, timeout)
	}
	time.Sleep(20 * time.Millisecond)
	if n := len(rs.requests()); n != 3 {
		t.Errorf("server got %d requests, want 3 (retries 2)", n)
	}

	// Silence in the middle of a transfer.
	type seen struct {
		acks map[uint16]int
		err  *Error
	}
	ch := make(chan seen, 1)
	rs = startResponder(t, "127.0.0.1", func(_ int, _ rrq, p *peer) {
		var e *Error
		defer func() { ch <- seen{p.acks, e} }()
		if !p.exchange(oackPkt("tsize", "2000"), 0) || !p.exchange(dataPkt(1, random(512, 1)), 1) {
			return
		}
		e = p.awaitError(2 * time.Second) // counting ACK 1 resends
	})
	tr, err := Get(context.Background(), rs.addr, "f", Config{Timeout: timeout, Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	got, err := io.ReadAll(tr)
	if len(got) != 512 || !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("got %d bytes, %v; want 512 and ErrNoAnswer", len(got), err)
	}
	if _, err := tr.Read(make([]byte, 10)); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("Read after the failure: %v", err)
	}
	s := <-ch
	if s.acks[1] != 3 || s.err == nil || s.err.Code != ErrCodeUndefined {
		t.Errorf("server saw ACK 1 %d times and %v; want 3 times, then an error 0", s.acks[1], s.err)
	}
}

// stallingResponder sends two blocks of a larger file, then waits for an
// ERROR from the client, which it passes on (nil if none came).
func stallingResponder(t *testing.T, errs chan<- *Error) *responder {
	return startResponder(t, "127.0.0.1", func(_ int, _ rrq, p *peer) {
		if !p.exchange(oackPkt("blksize", "512", "tsize", "10000"), 0) ||
			!p.exchange(dataPkt(1, random(512, 1)), 1) ||
			!p.exchange(dataPkt(2, random(512, 2)), 2) {
			errs <- nil
			return
		}
		errs <- p.awaitError(5 * time.Second)
	})
}

func TestCancelMidTransfer(t *testing.T) {
	errs := make(chan *Error, 1)
	rs := stallingResponder(t, errs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr, err := Get(ctx, rs.addr, "f", Config{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := io.ReadFull(tr, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	at := make(chan time.Time, 1)
	time.AfterFunc(50*time.Millisecond, func() { at <- time.Now(); cancel() })
	n, err := tr.Read(make([]byte, 100)) // blocks: the server stalls
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %d, %v; want context.Canceled", n, err)
	}
	if d := time.Since(<-at); d > 300*time.Millisecond {
		t.Errorf("Read returned %v after the cancel", d)
	}
	if e := <-errs; e == nil || e.Code != ErrCodeUndefined {
		t.Errorf("server got %v, want an error 0", e)
	}
}

func TestCancelBeforeAnswer(t *testing.T) {
	rs := startResponder(t, "127.0.0.1", func(int, rrq, *peer) {})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Get(ctx, rs.addr, "f", Config{Timeout: 5 * time.Second})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 600*time.Millisecond {
		t.Errorf("Get returned after %v; the context ended after 100ms", d)
	}

	// Already cancelled: nothing is sent.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := Get(ctx, rs.addr, "g", Config{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestCloseMidTransfer(t *testing.T) {
	errs := make(chan *Error, 1)
	rs := stallingResponder(t, errs)
	tr, err := Get(context.Background(), rs.addr, "f", Config{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(tr, make([]byte, 700)); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if e := <-errs; e == nil || e.Code != ErrCodeUndefined {
		t.Errorf("server got %v, want an error 0", e)
	}
	if _, err := tr.Read(make([]byte, 10)); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}
	tr.Close() // again: nothing happens

	// Close while a Read waits for the stalled server.
	rs = stallingResponder(t, errs)
	tr, err = Get(context.Background(), rs.addr, "f", Config{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(tr, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	at := make(chan time.Time, 1)
	time.AfterFunc(50*time.Millisecond, func() { at <- time.Now(); tr.Close() })
	if _, err := tr.Read(make([]byte, 10)); !errors.Is(err, ErrClosed) {
		t.Errorf("Read interrupted by Close: %v, want ErrClosed", err)
	}
	if d := time.Since(<-at); d > 300*time.Millisecond {
		t.Errorf("Read returned %v after Close", d)
	}
	if e := <-errs; e == nil || e.Code != ErrCodeUndefined {
		t.Errorf("server got %v, want an error 0", e)
	}
}

func TestCloseAfterEndSendsNothing(t *testing.T) {
	extra := make(chan []byte, 1)
	rs := startResponder(t, "127.0.0.1", func(_ int, _ rrq, p *peer) {
		if !p.sendFile([]byte("short file"), 512) {
			extra <- []byte("(no ACK)")
			return
		}
		extra <- p.recv(200 * time.Millisecond)
	})
	tr, err := Get(context.Background(), rs.addr, "f", Config{})
	if err != nil {
		t.Fatal(err)
	}
	// The one block arrived with Get; the transfer is complete, though
	// not read yet.
	tr.Close()
	if p := <-extra; p != nil {
		t.Errorf("server got %q after the last ACK", p)
	}
}

func TestServerErrors(t *testing.T) {
	answered := make(chan []byte, 2)
	rs := startResponder(t, "127.0.0.1", func(_ int, r rrq, p *peer) {
		switch r.file {
		case "missing":
			p.send(errorPkt(ErrCodeNotFound, "File not found"))
		case "midway":
			if p.exchange(dataPkt(1, random(512, 1)), 1) {
				p.send(errorPkt(ErrCodeDiskFull, "disk\x00junk after the NUL"))
			}
		}
		answered <- p.recv(200 * time.Millisecond)
	})
	_, err := Get(context.Background(), rs.addr, "missing", Config{})
	var e *Error
	if !errors.As(err, &e) || e.Code != ErrCodeNotFound || e.Message != "File not found" {
		t.Errorf("missing: got %v", err)
	}
	got, _, err := fetch(t, rs.addr, "midway", Config{})
	if len(got) != 512 || !errors.As(err, &e) || e.Code != ErrCodeDiskFull || e.Message != "disk" {
		t.Errorf("midway: got %d bytes, %v", len(got), err)
	}
	if n := len(rs.requests()); n != 2 {
		t.Errorf("%d requests, want 2 (errors are not retried here)", n)
	}
	for range 2 {
		if p := <-answered; p != nil {
			t.Errorf("the client answered an ERROR packet with %q", p)
		}
	}
}

func TestSizeMismatch(t *testing.T) {
	data := random(1000, 12)
	rs := startResponder(t, "127.0.0.1", func(_ int, r rrq, p *peer) {
		announce := map[string]string{"short": "1500", "long": "700", "zero": "0"}[r.file]
		if p.exchange(oackPkt("blksize", "512", "tsize", announce), 0) {
			p.sendFile(data, 512)
		}
	})
	got, _, err := fetch(t, rs.addr, "short", Config{})
	var se *SizeError
	if !errors.As(err, &se) || se.Announced != 1500 || se.Got != 1000 || !bytes.Equal(got, data) {
		t.Errorf("short: got %d bytes, %v", len(got), err)
	}
	got, _, err = fetch(t, rs.addr, "long", Config{})
	if !errors.As(err, &se) || se.Announced != 700 || se.Got != 1000 || !bytes.Equal(got, data[:512]) {
		t.Errorf("long: got %d bytes, %v", len(got), err)
	}
	got, _, err = fetch(t, rs.addr, "zero", Config{})
	if !errors.As(err, &se) || se.Announced != 0 || se.Got != 512 || len(got) != 0 {
		t.Errorf("zero: got %d bytes, %v", len(got), err)
	}
}

func TestOversizedBlock(t *testing.T) {
	refused := make(chan *Error, 1)
	rs := startResponder(t, "127.0.0.1", func(_ int, _ rrq, p *peer) {
		p.send(dataPkt(1, make([]byte, 513))) // ignores options, breaks RFC 1350
		refused <- p.awaitError(2 * time.Second)
	})
	_, err := Get(context.Background(), rs.addr, "f", Config{})
	if !errors.Is(err, ErrProtocol) {
		t.Errorf("got %v, want ErrProtocol", err)
	}
	if e := <-refused; e == nil || e.Code != ErrCodeIllegal {
		t.Errorf("server got %v, want an error 4", e)
	}
}

func TestIPv6(t *testing.T) {
	data := random(3000, 13)
	rs := startResponder(t, "::1", func(_ int, r rrq, p *peer) {
		if p.exchange(oackPkt("blksize", r.opts["blksize"], "tsize", "3000"), 0) {
			p.sendFile(data, DefaultBlockSize)
		}
	})
	if !rs.addr.Addr().Is6() {
		t.Fatalf("responder on %v", rs.addr)
	}
	got, tr, err := fetch(t, rs.addr, "f", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) || tr.BlockSize() != DefaultBlockSize {
		t.Errorf("got %d bytes in blocks of %d", len(got), tr.BlockSize())
	}
}

func TestRequestLimits(t *testing.T) {
	rs := startResponder(t, "127.0.0.1", func(_ int, _ rrq, p *peer) {
		p.sendFile([]byte("x"), 512)
	})
	// With options, a request of 512 bytes has room for a name this long.
	roomy := maxRequest - len("\x00\x01\x00octet\x00blksize\x001468\x00tsize\x000\x00")
	for _, tc := range []struct {
		n    int
		opts bool
	}{{roomy, true}, {roomy + 1, false}, {MaxFilename, false}} {
		name := strings.Repeat("n", tc.n)
		if _, _, err := fetch(t, rs.addr, name, Config{}); err != nil {
			t.Fatalf("name of %d bytes: %v", tc.n, err)
		}
		reqs := rs.requests()
		r := reqs[len(reqs)-1]
		if r.file != name || (len(r.opts) > 0) != tc.opts || len(r.raw) > maxRequest {
			t.Errorf("name of %d bytes: request of %d bytes with options %v", tc.n, len(r.raw), r.opts)
		}
	}
	for _, tc := range []struct {
		file string
		cfg  Config
		want string
	}{
		{strings.Repeat("n", MaxFilename+1), Config{}, "more than the 503"},
		{"", Config{}, "empty file name"},
		{"a\x00b", Config{}, "NUL"},
		{"f", Config{BlockSize: 7}, "outside 8 to 65464"},
		{"f", Config{BlockSize: 65465}, "outside"},
	} {
		_, err := Get(context.Background(), rs.addr, tc.file, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %+v: got %v, want an error with %q", tc.file, tc.cfg, err, tc.want)
		}
	}
	if _, err := Get(context.Background(), netip.AddrPort{}, "f", Config{}); err == nil {
		t.Error("no server address: no error")
	}
	if n := len(rs.requests()); n != 3 {
		t.Errorf("%d requests, want only the 3 valid ones", n)
	}
}
