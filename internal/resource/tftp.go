package resource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pin/tftp"
)

// tftpScheme fetches tftp://host[:port]/file URLs (RFC 1350, octet mode)
// with github.com/pin/tftp's client.
//
// The transfer is streamed: the client writes each block into a pipe as it
// arrives, and the body reads from the other end. TFTP has no way to start
// a transfer at an offset, so a body never resumes; a transfer that breaks
// off fails the attempt with a retryable error and the fetcher starts over.
//
// The client of pin/tftp v2.1.0 has no public way to ask for options
// (blksize, tsize): it always uses 512-byte blocks and only learns the
// transfer size if the server volunteers it. When it does, a transfer that
// ends at any other length is an error.
type tftpScheme struct {
	opts *Options
	// timeout is how long each packet may go unanswered and retries how
	// often it is then sent again; zero means tftpTimeout and tftpRetries.
	// An attempt with no answer at all fails (retryably) after about
	// timeout × (retries+1).
	timeout time.Duration
	retries int
}

const (
	tftpDefaultPort = "69"
	tftpTimeout     = 2 * time.Second
	tftpRetries     = 4
	// tftpMaxFilename is the longest file name pin/tftp's client can put in
	// its 516-byte request packet; a longer one would be cut short silently.
	tftpMaxFilename = 504
)

func (t *tftpScheme) open(ctx context.Context, req *Request, u *url.URL) (body, error) {
	host, port, file, err := tftpTarget(u)
	if err != nil {
		return body{}, err
	}
	ip, err := tftpResolve(ctx, host)
	if err != nil {
		return body{}, err
	}
	server := net.JoinHostPort(ip.String(), port)
	client, err := tftp.NewClient(server) // a literal address: no lookup
	if err != nil {
		return body{}, fmt.Errorf("tftp: %w", err)
	}
	timeout, retries := t.timeout, t.retries
	if timeout <= 0 {
		timeout = tftpTimeout
	}
	if retries <= 0 {
		retries = tftpRetries
	}
	client.SetTimeout(timeout)
	client.SetRetries(retries)
	// The library sleeps a random time of up to a second before each
	// retransmission by default, on top of the timeout; the timeout is
	// spacing enough.
	client.SetBackoff(func(int) time.Duration { return 0 })

	// Receive sends the request and waits for the first packet; it cannot
	// be interrupted, so it runs on its own and a cancelled fetch returns
	// at once, leaving it to end (within timeout × (retries+1)) and be
	// aborted.
	type received struct {
		wt  io.WriterTo
		err error
	}
	ch := make(chan received, 1)
	go func() {
		wt, err := client.Receive(file, "octet")
		ch <- received{wt, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return body{}, tftpClassify(r.err, server, file)
		}
		if err := ctx.Err(); err != nil {
			go tftpAbort(r.wt)
			return body{}, err
		}
		return tftpStream(ctx, r.wt, server, file), nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				tftpAbort(r.wt)
			}
		}()
		return body{}, ctx.Err()
	}
}

// tftpTarget splits a tftp URL into host, port and the file name to ask
// for. As in RFC 3617, the file name is the path after the slash that ends
// the authority ("tftp://h//srv/f" asks for "/srv/f"), and a ";mode=octet"
// suffix is allowed.
func tftpTarget(u *url.URL) (host, port, file string, err error) {
	if u.Opaque != "" {
		return "", "", "", errors.New("tftp URL must be tftp://host[:port]/file")
	}
	host = u.Hostname()
	if host == "" {
		return "", "", "", errors.New("tftp URL has no host")
	}
	port = u.Port()
	if port == "" {
		port = tftpDefaultPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", "", fmt.Errorf("tftp URL has a bad port %q", port)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return "", "", "", errors.New("tftp URL has a query; a '?' in the file name must be written %3F")
	}
	file = strings.TrimPrefix(u.Path, "/")
	if i := strings.LastIndex(file, ";mode="); i >= 0 {
		if mode := file[i+len(";mode="):]; !strings.EqualFold(mode, "octet") {
			return "", "", "", fmt.Errorf("tftp mode %q is not supported, only octet", mode)
		}
		file = file[:i]
	}
	switch {
	case file == "":
		return "", "", "", errors.New("tftp URL names no file")
	case strings.ContainsRune(file, 0):
		return "", "", "", errors.New("tftp file name contains a NUL byte")
	case len(file) > tftpMaxFilename:
		return "", "", "", fmt.Errorf("tftp file name is %d bytes long, more than the %d a request can carry", len(file), tftpMaxFilename)
	}
	return host, port, file, nil
}

// tftpResolve looks host up, honouring ctx. At boot a failed lookup usually
// means the network or DNS is not up yet, so it is retryable.
func tftpResolve(ctx context.Context, host string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		if ctx.Err() != nil {
			return netip.Addr{}, ctx.Err()
		}
		return netip.Addr{}, Retryable(fmt.Errorf("tftp: %w", err))
	}
	if len(ips) == 0 {
		return netip.Addr{}, Retryable(fmt.Errorf("tftp: no address for %s", host))
	}
	return ips[0].Unmap(), nil
}

// tftpStream returns a body that reads the transfer as it arrives. Closing
// the body or ending ctx makes the client's next write fail, which aborts
// the transfer (the client tells the server with an error packet).
func tftpStream(ctx context.Context, wt io.WriterTo, server, file string) body {
	size, sized := int64(0), false
	if it, ok := wt.(tftp.IncomingTransfer); ok {
		size, sized = it.Size() // only if the server sent a tsize option
	}
	pr, pw := io.Pipe()
	stop := context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	go func() {
		defer stop()
		n, err := wt.WriteTo(pw)
		switch {
		case err != nil:
			// If the pipe was closed (by the reader or ctx) that error
			// stands; CloseWithError keeps the first one.
			err = tftpClassify(err, server, file)
		case sized && n != size:
			err = Retryable(fmt.Errorf("tftp server %s: transfer of %q ended after %d bytes, but the server announced %d", server, file, n, size))
		}
		pw.CloseWithError(err) // nil: EOF
	}()
	return body{ReadCloser: pr}
}

// tftpAbort ends a transfer nobody will read: a write that fails makes the
// client send an error packet to the server and close its socket.
func tftpAbort(wt io.WriterTo) {
	_, _ = wt.WriteTo(tftpFailWriter{}) // the failure is the point
}

type tftpFailWriter struct{}

func (tftpFailWriter) Write([]byte) (int, error) { return 0, errors.New("transfer cancelled") }

// TFTP error codes (RFC 1350, RFC 2347).
const (
	tftpErrUndefined      = 0
	tftpErrNotFound       = 1
	tftpErrAccess         = 2
	tftpErrDiskFull       = 3
	tftpErrIllegal        = 4
	tftpErrUnknownTID     = 5
	tftpErrOptionsRefused = 8
)

// tftpClassify turns an error from the client into one that names the
// server and file and says whether another attempt may help. An error
// packet for a missing file, a denied access or a refused request is final;
// silence, network errors and garbled packets are retryable, and so are
// the codes that describe a passing state of the server (undefined, which
// servers use for "busy", disk full, unknown transfer ID).
func tftpClassify(err error, server, file string) error {
	if code, msg, ok := tftpErrorPacket(err); ok {
		said := ""
		if msg != "" {
			said = fmt.Sprintf(" (server said %q)", msg)
		}
		switch code {
		case tftpErrNotFound:
			return fmt.Errorf("tftp server %s: file %q not found%s", server, file, said)
		case tftpErrAccess:
			return fmt.Errorf("tftp server %s: access to %q denied%s", server, file, said)
		case tftpErrUndefined, tftpErrDiskFull, tftpErrUnknownTID:
			return Retryable(fmt.Errorf("tftp server %s: error %d for %q%s", server, code, file, said))
		case tftpErrIllegal, tftpErrOptionsRefused:
			return fmt.Errorf("tftp server %s refused the request for %q: error %d%s", server, file, code, said)
		default:
			return fmt.Errorf("tftp server %s: error %d for %q%s", server, code, file, said)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Retryable(fmt.Errorf("tftp server %s did not answer for %q: %w", server, file, err))
	}
	return Retryable(fmt.Errorf("tftp server %s, file %q: %w", server, file, err))
}

// tftpErrorPacket recognises the error pin/tftp's client returns for an
// error packet from the server: "code: <n>, message: <text>". (v2.1.0 has
// no error type to test for.)
func tftpErrorPacket(err error) (code int, msg string, ok bool) {
	rest, found := strings.CutPrefix(err.Error(), "code: ")
	if !found {
		return 0, "", false
	}
	num, msg, found := strings.Cut(rest, ", message: ")
	if !found {
		return 0, "", false
	}
	code, convErr := strconv.Atoi(num)
	if convErr != nil {
		return 0, "", false
	}
	return code, strings.TrimSpace(strings.TrimRight(msg, "\x00")), true
}
