package resource

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/resource/tftp"
	pintftp "github.com/pin/tftp"
)

// tftpTestServer is a pin/tftp server on a loopback address serving files
// from memory. handle, when set, answers instead of the file map; n is how
// many requests for that name have come in, this one included.
type tftpTestServer struct {
	addr string // host:port
	stop chan struct{}

	mu       sync.Mutex
	files    map[string][]byte
	requests map[string]int
	handle   func(name string, n int, rf io.ReaderFrom) error
}

const tftpSyncName = "_tftp_test_sync_"

func startTFTPServer(t *testing.T, ip string, files map[string][]byte) *tftpTestServer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	ts := &tftpTestServer{
		addr:     conn.LocalAddr().String(),
		stop:     make(chan struct{}),
		files:    files,
		requests: map[string]int{},
	}
	synced := make(chan struct{})
	var syncOnce sync.Once
	s := pintftp.NewServer(func(name string, rf io.ReaderFrom) error {
		if name == tftpSyncName {
			syncOnce.Do(func() { close(synced) })
			return errors.New("sync")
		}
		ts.mu.Lock()
		ts.requests[name]++
		n, handle, data, ok := ts.requests[name], ts.handle, ts.files[name], false
		if handle == nil {
			_, ok = ts.files[name]
		}
		ts.mu.Unlock()
		if handle != nil {
			return handle(name, n, rf)
		}
		if !ok {
			return errors.New("no such file")
		}
		_, err := rf.ReadFrom(bytes.NewReader(data))
		return err
	}, nil)
	// Short timeouts so that transfers a client walked away from end soon.
	s.SetTimeout(200 * time.Millisecond)
	s.SetRetries(2)
	s.SetBackoff(func(int) time.Duration { return 0 })
	go s.Serve(conn)
	t.Cleanup(func() {
		close(ts.stop)
		// Serve sets up the fields Shutdown uses once it runs; a request
		// that reaches a handler proves it has (and orders the two).
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
		if err != nil {
			t.Errorf("sync socket: %v", err)
			return
		}
		defer c.Close()
		rrq := append([]byte{0, 1}, tftpSyncName+"\x00octet\x00"...)
		for range 50 {
			if _, err := c.WriteToUDP(rrq, conn.LocalAddr().(*net.UDPAddr)); err != nil {
				t.Errorf("sync request: %v", err)
				return
			}
			select {
			case <-synced:
				s.Shutdown()
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		t.Error("tftp test server never answered the sync request; not shut down")
	})
	return ts
}

func (ts *tftpTestServer) url(name string) string { return "tftp://" + ts.addr + "/" + name }

func (ts *tftpTestServer) count(name string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.requests[name]
}

func (ts *tftpTestServer) setHandler(h func(name string, n int, rf io.ReaderFrom) error) {
	ts.mu.Lock()
	ts.handle = h
	ts.mu.Unlock()
}

// newTFTPFetcher returns a Fetcher with short back-off whose tftp client
// gives up on a silent server after timeout × (retries+1).
func newTFTPFetcher(t *testing.T, timeout time.Duration, retries int) *Fetcher {
	t.Helper()
	f, err := New(Options{RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := f.schemes["tftp"].(*tftpScheme)
	ts.timeout, ts.retries = timeout, retries
	return f
}

func tftpRandom(n int, seed uint64) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	b := make([]byte, n)
	r.Read(b)
	return b
}

func sha512Spec(b []byte) string {
	sum := sha512.Sum512(b)
	return "sha512-" + hex.EncodeToString(sum[:])
}

func TestTFTPFetchBytes(t *testing.T) {
	files := map[string][]byte{
		"hello.txt":             []byte("hello over tftp\n"),
		"boot/configs/node.ign": []byte(`{"ignition":{"version":"3.4.0"}}`),
		"/srv/abs.txt":          []byte("absolute"),
	}
	// Sizes around the 512-byte block: a transfer ends with the first
	// block shorter than 512, an empty one after an exact multiple.
	for _, n := range []int{0, 1, 511, 512, 513, 1024, 70001} {
		files["size-"+strconv.Itoa(n)] = tftpRandom(n, uint64(n))
	}
	srv := startTFTPServer(t, "127.0.0.1", files)
	f := newTFTPFetcher(t, 500*time.Millisecond, 3)

	for _, tc := range []struct{ url, name string }{
		{srv.url("hello.txt"), "hello.txt"},
		{srv.url("boot/configs/node.ign"), "boot/configs/node.ign"},
		{srv.url("hello.txt;mode=octet"), "hello.txt"},
		{"tftp://" + srv.addr + "//srv/abs.txt", "/srv/abs.txt"},
	} {
		before := srv.count(tc.name)
		got, err := f.FetchBytes(context.Background(), Request{URL: tc.url}, 1<<20)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if !bytes.Equal(got, files[tc.name]) {
			t.Errorf("%s: got %q, want %q", tc.url, got, files[tc.name])
		}
		if n := srv.count(tc.name) - before; n != 1 {
			t.Errorf("%s: server saw %d requests for %q, want 1", tc.url, n, tc.name)
		}
	}
	for _, n := range []int{0, 1, 511, 512, 513, 1024, 70001} {
		name := "size-" + strconv.Itoa(n)
		got, err := f.FetchBytes(context.Background(), Request{URL: srv.url(name), Hash: sha512Spec(files[name])}, 1<<20)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, files[name]) {
			t.Errorf("%s: got %d bytes, not the file", name, len(got))
		}
	}
	// The buffer limit still applies.
	if _, err := f.FetchBytes(context.Background(), Request{URL: srv.url("size-70001")}, 1000); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: got %v, want ErrTooLarge", err)
	}
}

// TestTFTPNegotiatesOptions opens transfers from pin/tftp's server, which
// takes blksize and tsize: the client asks for a large block and learns
// the size.
func TestTFTPNegotiatesOptions(t *testing.T) {
	data := tftpRandom(100_000, 11)
	srv := startTFTPServer(t, "127.0.0.1", map[string][]byte{"opts.bin": data})
	u, _ := url.Parse(srv.url("opts.bin"))

	for _, tc := range []struct{ ask, want int }{
		{0, tftp.DefaultBlockSize}, // 1468
		{4000, 4000},
		{512, 512},
	} {
		s := &tftpScheme{timeout: 500 * time.Millisecond, retries: 3, blockSize: tc.ask}
		b, err := s.open(context.Background(), &Request{}, u)
		if err != nil {
			t.Fatal(err)
		}
		tr := b.ReadCloser.(*tftpBody).tr
		if got := tr.BlockSize(); got != tc.want {
			t.Errorf("asked for blksize %d: got %d, want %d", tc.ask, got, tc.want)
		}
		if size, ok := tr.Size(); !ok || size != int64(len(data)) {
			t.Errorf("asked for blksize %d: size %d, %v; want %d from tsize", tc.ask, size, ok, len(data))
		}
		got, err := io.ReadAll(b)
		b.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("asked for blksize %d: got %d bytes, %v", tc.ask, len(got), err)
		}
	}
}

func TestTFTPFetchToFileLarge(t *testing.T) {
	data := tftpRandom(4<<20+123, 42)
	srv := startTFTPServer(t, "127.0.0.1", map[string][]byte{"images/big.bin": data})
	f := newTFTPFetcher(t, 500*time.Millisecond, 3)
	dest := filepath.Join(t.TempDir(), "big.bin")

	req := Request{URL: srv.url("images/big.bin"), Hash: sha512Spec(data), Path: "storage.files.0.contents"}
	if err := f.FetchToFile(context.Background(), req, dest, FileOptions{Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("file differs: %d bytes, want %d", len(got), len(data))
	}

	// A wrong hash is final and leaves the old file alone.
	bad := req
	bad.Hash = sha512Spec([]byte("something else"))
	err = f.FetchToFile(context.Background(), bad, dest, FileOptions{})
	var mismatch *HashMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("wrong hash: got %v, want a HashMismatchError", err)
	}
	if n := srv.count("images/big.bin"); n != 2 {
		t.Errorf("server saw %d requests, want 2 (a hash mismatch is not retried)", n)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
		t.Error("a failed fetch changed the file")
	}
}

func TestTFTPGzip(t *testing.T) {
	plain := bytes.Repeat([]byte("compressible tftp payload\n"), 20000)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(plain)
	w.Close()
	srv := startTFTPServer(t, "127.0.0.1", map[string][]byte{"payload.gz": gz.Bytes()})
	f := newTFTPFetcher(t, 500*time.Millisecond, 3)

	got, err := f.FetchBytes(context.Background(), Request{
		URL:         srv.url("payload.gz"),
		Compression: "gzip",
		Hash:        sha512Spec(plain), // over the decompressed bytes
	}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("got %d bytes, want the %d decompressed bytes", len(got), len(plain))
	}
}

func TestTFTPMissingFileIsFinal(t *testing.T) {
	srv := startTFTPServer(t, "127.0.0.1", map[string][]byte{})
	f := newTFTPFetcher(t, 500*time.Millisecond, 3)
	// A retry loop would run until this deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	start := time.Now()
	_, err := f.FetchBytes(ctx, Request{URL: srv.url("configs/missing.ign"), Path: "ignition.config.replace"}, 1<<20)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("fetching a missing file succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"ignition.config.replace", `"configs/missing.ign"`, "not found", "no such file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if IsRetryable(err) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v should be final", err)
	}
	if n := srv.count("configs/missing.ign"); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
	if elapsed > 2*time.Second {
		t.Errorf("took %v", elapsed)
	}
}

// startRawTFTP runs a hand-made TFTP responder for behaviour pin/tftp's
// server cannot produce (other error codes, a volunteered transfer size).
// serve answers one read request from its own socket; attempt counts the
// requests, from 1.
func startRawTFTP(t *testing.T, serve func(attempt int, file string, c *net.UDPConn, client *net.UDPAddr)) string {
	t.Helper()
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		buf := make([]byte, 1024)
		for attempt := 1; ; attempt++ {
			n, client, err := l.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p := buf[:n]
			if len(p) < 4 || binary.BigEndian.Uint16(p) != 1 {
				t.Errorf("raw server: not a read request: %q", p)
				continue
			}
			fields := strings.Split(string(p[2:]), "\x00")
			if len(fields) < 2 || fields[1] != "octet" {
				t.Errorf("raw server: bad request %q", p)
				continue
			}
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Error(err)
				return
			}
			wg.Go(func() {
				defer c.Close()
				serve(attempt, fields[0], c, client)
			})
		}
	})
	return l.LocalAddr().String()
}

func rawSend(t *testing.T, c *net.UDPConn, to *net.UDPAddr, p []byte) {
	if _, err := c.WriteToUDP(p, to); err != nil {
		t.Errorf("raw server: %v", err)
	}
}

func rawError(t *testing.T, c *net.UDPConn, to *net.UDPAddr, code uint16, msg string) {
	p := binary.BigEndian.AppendUint16([]byte{0, 5}, code)
	rawSend(t, c, to, append(append(p, msg...), 0))
}

// rawAwaitACK waits for the acknowledgement of block.
func rawAwaitACK(t *testing.T, c *net.UDPConn, block uint16) bool {
	buf := make([]byte, 1024)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Errorf("raw server: waiting for ACK %d: %v", block, err)
			return false
		}
		if n == 4 && binary.BigEndian.Uint16(buf) == 4 && binary.BigEndian.Uint16(buf[2:]) == block {
			return true
		}
	}
}

// rawServeSmall sends data (under 512 bytes) as the one and last block,
// first announcing tsize when it is not negative.
func rawServeSmall(t *testing.T, c *net.UDPConn, to *net.UDPAddr, data []byte, tsize int) {
	if tsize >= 0 {
		rawSend(t, c, to, append([]byte{0, 6}, "tsize\x00"+strconv.Itoa(tsize)+"\x00"...))
		if !rawAwaitACK(t, c, 0) {
			return
		}
	}
	rawSend(t, c, to, append([]byte{0, 3, 0, 1}, data...))
	rawAwaitACK(t, c, 1)
}

func TestTFTPErrorCodes(t *testing.T) {
	var mu sync.Mutex
	attempts := map[string]int{}
	addr := startRawTFTP(t, func(_ int, file string, c *net.UDPConn, client *net.UDPAddr) {
		mu.Lock()
		attempts[file]++
		n := attempts[file]
		mu.Unlock()
		switch file {
		case "secret.ign":
			rawError(t, c, client, 2, "permission denied")
		case "illegal.ign":
			rawError(t, c, client, 4, "no")
		case "busy.ign":
			if n <= 2 {
				rawError(t, c, client, 0, "too many transfers")
				return
			}
			rawServeSmall(t, c, client, []byte("finally"), -1)
		default:
			rawError(t, c, client, 1, "")
		}
	})
	f := newTFTPFetcher(t, 500*time.Millisecond, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for _, tc := range []struct{ file, want string }{
		{"secret.ign", `access to "secret.ign" denied (server said "permission denied")`},
		{"illegal.ign", `refused the request for "illegal.ign": error 4`},
		{"gone.ign", `file "gone.ign" not found`},
	} {
		_, err := f.FetchBytes(ctx, Request{URL: "tftp://" + addr + "/" + tc.file}, 1<<20)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.file, err, tc.want)
		}
		mu.Lock()
		n := attempts[tc.file]
		mu.Unlock()
		if n != 1 {
			t.Errorf("%s: %d attempts, want 1 (final error)", tc.file, n)
		}
	}

	// Error 0 ("not defined", what servers send when busy) is retried.
	got, err := f.FetchBytes(ctx, Request{URL: "tftp://" + addr + "/busy.ign"}, 1<<20)
	if err != nil || string(got) != "finally" {
		t.Fatalf("busy server: got %q, %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts["busy.ign"] != 3 {
		t.Errorf("busy server: %d attempts, want 3", attempts["busy.ign"])
	}
}

func TestTFTPClassify(t *testing.T) {
	for _, tc := range []struct {
		err       error
		retryable bool
		want      string
	}{
		{&tftp.Error{Code: 1, Message: "File not found"}, false, `file "f" not found (server said "File not found")`},
		{&tftp.Error{Code: 2}, false, `access to "f" denied`},
		{&tftp.Error{Code: 0, Message: "busy"}, true, `error 0 for "f" (server said "busy")`},
		{&tftp.Error{Code: 3, Message: "full"}, true, "error 3"},
		{&tftp.Error{Code: 4, Message: "no"}, false, "refused the request"},
		{&tftp.Error{Code: 5, Message: "tid"}, true, "error 5"},
		{&tftp.Error{Code: 6, Message: "exists"}, false, "error 6"},
		{&tftp.Error{Code: 7, Message: "who"}, false, "error 7"},
		{fmt.Errorf("wrapped: %w", &tftp.Error{Code: 8, Message: "opts"}), false, "refused the request"},
		{fmt.Errorf("%w after 5 tries", tftp.ErrNoAnswer), true, "did not answer"},
		{&tftp.SizeError{Announced: 10, Got: 5}, true, "ended after 5 bytes, but the server announced 10"},
		{fmt.Errorf("%w: unexpected packet", tftp.ErrProtocol), true, "unexpected packet"},
		{errors.New("read udp: connection refused"), true, "connection refused"},
	} {
		err := tftpClassify(tc.err, "192.0.2.1:69", "f")
		if IsRetryable(err) != tc.retryable {
			t.Errorf("%q: retryable = %v, want %v", tc.err, IsRetryable(err), tc.retryable)
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "192.0.2.1:69") {
			t.Errorf("%q: message %q, want it to contain %q and the server", tc.err, err, tc.want)
		}
	}
	// The context's errors are the fetcher's business: passed on as they are.
	for _, cerr := range []error{context.Canceled, context.DeadlineExceeded} {
		if err := tftpClassify(cerr, "192.0.2.1:69", "f"); err != cerr {
			t.Errorf("%v classified as %v", cerr, err)
		}
	}
}

func TestTFTPShortOfAnnouncedSize(t *testing.T) {
	// This server answers the options with tsize alone (so blocks stay
	// 512 bytes), and its size is wrong the first time.
	data := []byte("one hundred bytes? no, fewer")
	addr := startRawTFTP(t, func(attempt int, _ string, c *net.UDPConn, client *net.UDPAddr) {
		if attempt == 1 {
			rawServeSmall(t, c, client, data, len(data)+500) // cut short
			return
		}
		rawServeSmall(t, c, client, data, len(data))
	})
	u, _ := url.Parse("tftp://" + addr + "/f")

	s := &tftpScheme{timeout: 500 * time.Millisecond, retries: 3}
	b, err := s.open(context.Background(), &Request{}, u)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	b.Close()
	if err == nil || !IsRetryable(err) || !strings.Contains(err.Error(), fmt.Sprintf("after %d bytes, but the server announced %d", len(data), len(data)+500)) {
		t.Fatalf("short transfer: got %v, want a retryable error naming both sizes", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("short transfer delivered %q", got)
	}

	// Through the Fetcher the second attempt (right size) succeeds.
	f := newTFTPFetcher(t, 500*time.Millisecond, 3)
	got, err = f.FetchBytes(context.Background(), Request{URL: u.String()}, 1<<20)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestTFTPRetriesUntilServerAnswers(t *testing.T) {
	data := tftpRandom(5000, 7)
	srv := startTFTPServer(t, "127.0.0.1", nil)
	const silent = 4 // requests left unanswered: two whole attempts below
	srv.setHandler(func(_ string, n int, rf io.ReaderFrom) error {
		if n <= silent {
			<-srv.stop
			return errors.New("shutting down")
		}
		_, err := rf.ReadFrom(bytes.NewReader(data))
		return err
	})
	// Each attempt sends the request twice, then gives up (retryably).
	f := newTFTPFetcher(t, 100*time.Millisecond, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	got, err := f.FetchBytes(ctx, Request{URL: srv.url("late.bin"), Hash: sha512Spec(data)}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("wrong content")
	}
	if n := srv.count("late.bin"); n < silent+1 {
		t.Errorf("server saw %d requests, want at least %d", n, silent+1)
	}
}

func TestTFTPNoServerIsRetryable(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close() // nobody listens there now
	u, _ := url.Parse("tftp://" + addr + "/f")

	s := &tftpScheme{timeout: 50 * time.Millisecond, retries: 1}
	start := time.Now()
	_, err = s.open(context.Background(), &Request{}, u)
	if err == nil || !IsRetryable(err) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("got %v, want a retryable no-answer error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}

	// Through the Fetcher, a server that never answers is asked again and
	// again until the context ends: each attempt sends the request twice.
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	requests := make(chan int, 1)
	go func() {
		n, buf := 0, make([]byte, 1024)
		for {
			m, _, err := silent.ReadFromUDP(buf)
			if err != nil {
				requests <- n
				return
			}
			if m > 2 && buf[1] == 1 {
				n++
			}
		}
	}()
	f := newTFTPFetcher(t, 50*time.Millisecond, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = f.FetchBytes(ctx, Request{URL: "tftp://" + silent.LocalAddr().String() + "/f"}, 1<<20)
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "gave up") {
		t.Errorf("got %v, want the fetcher to stop at the deadline", err)
	}
	silent.Close()
	if n := <-requests; n < 4 {
		t.Errorf("server got %d requests, want at least 4 (two attempts or more)", n)
	}
}

func TestTFTPBlockNumberRollover(t *testing.T) {
	if testing.Short() {
		t.Skip("transfers 33 MiB in 512-byte blocks")
	}
	// More than 65535 blocks: the 16-bit block number wraps around.
	// Through pin/tftp's server, with 512-byte blocks (the client package
	// has its own, faster rollover test with tiny blocks).
	data := tftpRandom(65536*512+1000, 9)
	srv := startTFTPServer(t, "127.0.0.1", map[string][]byte{"huge.img": data})
	f := newTFTPFetcher(t, time.Second, 3)
	f.schemes["tftp"].(*tftpScheme).blockSize = 512
	dest := filepath.Join(t.TempDir(), "huge.img")
	if err := f.FetchToFile(context.Background(), Request{URL: srv.url("huge.img"), Hash: sha512Spec(data)}, dest, FileOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("file differs: %d bytes, want %d", len(got), len(data))
	}
}

// tftpRelease returns a channel for tftpGate, closed by the returned func
// or, at the latest, when the test ends (before its server shuts down).
func tftpRelease(t *testing.T) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(ch) }) }
	t.Cleanup(release)
	return ch, release
}

// tftpGate reads r, but only once open is closed.
type tftpGate struct {
	open <-chan struct{}
	r    io.Reader
}

func (g tftpGate) Read(p []byte) (int, error) {
	<-g.open
	return g.r.Read(p)
}

// tftpWatchSink records what arrives and calls at once more than at bytes
// have been written.
type tftpWatchSink struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	at   int
	once sync.Once
	call func()
}

func (s *tftpWatchSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	n, _ := s.buf.Write(p)
	reached := s.buf.Len() >= s.at
	s.mu.Unlock()
	if reached {
		s.once.Do(s.call)
	}
	return n, nil
}

func (s *tftpWatchSink) Rewind() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Reset()
	return nil
}

func TestTFTPStreams(t *testing.T) {
	// The server sends the first 64 KiB, then holds the rest back until
	// the sink has bytes: a body that collected the whole transfer before
	// handing it on would never get there.
	data := tftpRandom(256<<10, 3)
	const first = 64 << 10
	srv := startTFTPServer(t, "127.0.0.1", nil)
	gate, release := tftpRelease(t)
	srv.setHandler(func(_ string, _ int, rf io.ReaderFrom) error {
		_, err := rf.ReadFrom(io.MultiReader(bytes.NewReader(data[:first]), tftpGate{gate, bytes.NewReader(data[first:])}))
		return err
	})
	f := newTFTPFetcher(t, 500*time.Millisecond, 5)

	arrived := make(chan struct{})
	sink := &tftpWatchSink{at: 32 << 10, call: func() { close(arrived) }}
	done := make(chan error, 1)
	go func() {
		done <- f.Fetch(context.Background(), Request{URL: srv.url("stream.bin"), Hash: sha512Spec(data)}, sink)
	}()

	select {
	case <-arrived:
	case err := <-done:
		t.Fatalf("fetch ended (%v) before the server sent everything", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no bytes reached the sink while the transfer was under way")
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fetch did not finish")
	}
	if !bytes.Equal(sink.buf.Bytes(), data) {
		t.Error("wrong content")
	}
}

func TestTFTPCancelMidTransfer(t *testing.T) {
	data := tftpRandom(256<<10, 4)
	srv := startTFTPServer(t, "127.0.0.1", nil)
	gate, release := tftpRelease(t)
	served := make(chan error, 2)
	srv.setHandler(func(_ string, _ int, rf io.ReaderFrom) error {
		_, err := rf.ReadFrom(io.MultiReader(bytes.NewReader(data[:16<<10]), tftpGate{gate, bytes.NewReader(data[16<<10:])}))
		served <- err
		return err
	})
	// Left alone, the client would notice the stalled server only after
	// 2 × 500ms; the cancel must end the fetch well before.
	f := newTFTPFetcher(t, 500*time.Millisecond, 1)
	dir := t.TempDir()
	dest := filepath.Join(dir, "out.bin")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelled time.Time
	sink := &tftpWatchSink{at: 4 << 10, call: func() { cancelled = time.Now(); cancel() }}
	err := f.Fetch(ctx, Request{URL: srv.url("big.bin")}, sink)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if d := time.Since(cancelled); d > 400*time.Millisecond || strings.Contains(err.Error(), "did not answer") {
		t.Errorf("fetch returned %v after the cancel, with %v", d, err)
	}

	// FetchToFile leaves nothing behind when cancelled.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() {
		for srv.count("big.bin") < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // let the first blocks arrive
		cancel2()
	}()
	if err := f.FetchToFile(ctx2, Request{URL: srv.url("big.bin")}, dest, FileOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("FetchToFile: got %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("cancelled FetchToFile left %v", entries)
	}

	// The client walked away from both transfers: once the server sends
	// on, it finds nobody acknowledging, and its transfers fail.
	release()
	for i := range 2 {
		select {
		case err := <-served:
			if err == nil {
				t.Errorf("transfer %d finished although the client was cancelled", i+1)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("server transfer still running")
		}
	}
}

func TestTFTPCancelBeforeAnswer(t *testing.T) {
	srv := startTFTPServer(t, "127.0.0.1", nil)
	srv.setHandler(func(string, int, io.ReaderFrom) error {
		<-srv.stop // never answers
		return errors.New("shutting down")
	})
	// The client alone would wait 3 × 1 s; the context ends sooner.
	f := newTFTPFetcher(t, time.Second, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.FetchBytes(ctx, Request{URL: srv.url("slow.ign")}, 1<<20)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 700*time.Millisecond {
		t.Errorf("returned after %v, the context ended after 150ms", d)
	}
}

func TestTFTPIPv6(t *testing.T) {
	srv := startTFTPServer(t, "::1", map[string][]byte{"v6.txt": []byte("over IPv6")})
	f := newTFTPFetcher(t, 500*time.Millisecond, 3)
	got, err := f.FetchBytes(context.Background(), Request{URL: srv.url("v6.txt")}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "over IPv6" {
		t.Errorf("got %q", got)
	}
}

func TestTFTPTarget(t *testing.T) {
	long := strings.Repeat("a", tftpMaxFilename)
	for _, tc := range []struct {
		url, host, port, file, err string
	}{
		{url: "tftp://boot.example/pxe/node.ign", host: "boot.example", port: "69", file: "pxe/node.ign"},
		{url: "tftp://10.0.0.1:6969/x", host: "10.0.0.1", port: "6969", file: "x"},
		{url: "tftp://[fe80::1%25eth0]/x", host: "fe80::1%eth0", port: "69", file: "x"},
		{url: "tftp://h//srv/tftp/x", host: "h", port: "69", file: "/srv/tftp/x"},
		{url: "tftp://h/with%20space", host: "h", port: "69", file: "with space"},
		{url: "tftp://h/q%3F", host: "h", port: "69", file: "q?"},
		{url: "tftp://h/x;mode=octet", host: "h", port: "69", file: "x"},
		{url: "tftp://h/x;MODE=OCTET", host: "h", port: "69", file: "x;MODE=OCTET"},
		{url: "tftp://h/x;mode=Octet", host: "h", port: "69", file: "x"},
		{url: "tftp://h/#frag", err: "names no file"},
		{url: "tftp://h/x;mode=netascii", err: "not supported"},
		{url: "tftp://h/", err: "names no file"},
		{url: "tftp://h", err: "names no file"},
		{url: "tftp:///x", err: "no host"},
		{url: "tftp:x", err: "tftp://host"},
		{url: "tftp://h:0/x", err: "bad port"},
		{url: "tftp://h:70000/x", err: "bad port"},
		{url: "tftp://h/x?y=1", err: "query"},
		{url: "tftp://h/x?", err: "query"},
		{url: "tftp://h/a%00b", err: "NUL"},
		{url: "tftp://h/" + long, host: "h", port: "69", file: long},
		{url: "tftp://h/" + long + "b", err: "more than the 503"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		host, port, file, err := tftpTarget(u)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, want an error with %q", tc.url, err, tc.err)
			}
			if IsRetryable(err) {
				t.Errorf("%s: a bad URL is not worth retrying", tc.url)
			}
			continue
		}
		if err != nil || host != tc.host || port != tc.port || file != tc.file {
			t.Errorf("%s: got %q %q %q %v, want %q %q %q", tc.url, host, port, file, err, tc.host, tc.port, tc.file)
		}
	}
}
