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

	"github.com/ignition-go/ignition/internal/resource/tftp"
)

// tftpScheme fetches tftp://host[:port]/file URLs (RFC 1350, octet mode)
// with the client of package tftp, which asks for a larger block size and
// the transfer size (RFC 2347-2349) and falls back to plain RFC 1350 with
// servers that do not take options.
//
// The transfer is streamed: each block is handed to the reader as it
// arrives. TFTP has no way to start a transfer at an offset, so a body
// never resumes; a transfer that breaks off fails the attempt with a
// retryable error and the fetcher starts over. When the server announces
// the transfer size, a transfer that ends at any other length is such an
// error too.
type tftpScheme struct {
	opts *Options
	// timeout is how long each packet may go unanswered and retries how
	// often it is then sent again; zero means tftp.DefaultTimeout and
	// tftp.DefaultRetries. An attempt with no answer at all fails
	// (retryably) after about timeout × (retries+1).
	timeout time.Duration
	retries int
	// blockSize is the block size to ask for; zero means
	// tftp.DefaultBlockSize (a packet that fits a 1500-byte MTU).
	blockSize int
}

const (
	tftpDefaultPort = "69"
	// tftpMaxFilename is the longest file name a request can carry.
	tftpMaxFilename = tftp.MaxFilename
)

func (t *tftpScheme) open(ctx context.Context, _ *Request, u *url.URL) (body, error) {
	host, port, file, err := tftpTarget(u)
	if err != nil {
		return body{}, err
	}
	ip, err := tftpResolve(ctx, host)
	if err != nil {
		return body{}, err
	}
	portNum, _ := strconv.ParseUint(port, 10, 16) // checked by tftpTarget
	addr := netip.AddrPortFrom(ip, uint16(portNum))
	server := addr.String()
	tr, err := tftp.Get(ctx, addr, file, tftp.Config{BlockSize: t.blockSize, Timeout: t.timeout, Retries: t.retries})
	if err != nil {
		return body{}, tftpClassify(err, server, file)
	}
	return body{ReadCloser: &tftpBody{tr: tr, server: server, file: file}}, nil
}

// tftpBody reads a transfer, classifying its errors. Closing it before the
// end aborts the transfer (the server is told with an error packet).
type tftpBody struct {
	tr           *tftp.Transfer
	server, file string
}

func (b *tftpBody) Read(p []byte) (int, error) {
	n, err := b.tr.Read(p)
	if err != nil && err != io.EOF {
		err = tftpClassify(err, b.server, b.file)
	}
	return n, err
}

func (b *tftpBody) Close() error { return b.tr.Close() }

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

// tftpClassify turns an error from the client into one that names the
// server and file and says whether another attempt may help. An error
// packet for a missing file, a denied access or a refused request is final;
// silence, network errors, size mismatches and protocol violations are
// retryable, and so are the codes that describe a passing state of the
// server (undefined, which servers use for "busy", disk full, unknown
// transfer ID). The context's own errors pass through unchanged.
func tftpClassify(err error, server, file string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var e *tftp.Error
	if errors.As(err, &e) {
		said := ""
		if e.Message != "" {
			said = fmt.Sprintf(" (server said %q)", e.Message)
		}
		switch e.Code {
		case tftp.ErrCodeNotFound:
			return fmt.Errorf("tftp server %s: file %q not found%s", server, file, said)
		case tftp.ErrCodeAccess:
			return fmt.Errorf("tftp server %s: access to %q denied%s", server, file, said)
		case tftp.ErrCodeUndefined, tftp.ErrCodeDiskFull, tftp.ErrCodeUnknownTID:
			return Retryable(fmt.Errorf("tftp server %s: error %d for %q%s", server, e.Code, file, said))
		case tftp.ErrCodeIllegal, tftp.ErrCodeOptionsRefused:
			return fmt.Errorf("tftp server %s refused the request for %q: error %d%s", server, file, e.Code, said)
		default:
			return fmt.Errorf("tftp server %s: error %d for %q%s", server, e.Code, file, said)
		}
	}
	if errors.Is(err, tftp.ErrNoAnswer) {
		return Retryable(fmt.Errorf("tftp server %s did not answer for %q: %w", server, file, err))
	}
	return Retryable(fmt.Errorf("tftp server %s, file %q: %w", server, file, err))
}
