// Package applehv is the "applehv" platform: VMs of Apple's
// Virtualization framework on macOS (run by vfkit, e.g. under podman
// machine). There is no fw_cfg or metadata network there; the VMM serves
// the config over HTTP on a virtio-vsock port instead: the guest connects
// to the host (vsock context ID 2) on port 1024 and asks for GET /.
//
// A 200 answer carries the config; 404, or 200 with an empty body, means
// the user gave none. The connection stays on the VM's own virtio device,
// so it works without the network (in fetch-offline). The vsock module is
// loaded with modprobe first. The host side may not listen yet when the
// guest gets there: a connection that fails, or a 5xx answer, is retried a
// few times with a growing pause.
//
// The resource Fetcher only dials TCP, so the request is made here with
// net/http over a vsock connection (github.com/mdlayher/vsock), reached
// through a small dialer interface that tests replace with in-memory
// pipes.
package applehv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/mdlayher/vsock"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource/configs"
)

// Where the VMM serves the config.
const (
	HostCID = vsock.Host // 2
	Port    = 1024
)

const (
	modprobeCmd = "modprobe"
	module      = "vsock"
	// attempts bounds the tries; the pauses between them double from
	// firstPause.
	attempts   = 6
	firstPause = 250 * time.Millisecond
)

// dialer opens the connection the request goes over.
type dialer interface {
	DialContext(ctx context.Context) (net.Conn, error)
	String() string // for messages
}

// vsockDialer connects to a vsock port.
type vsockDialer struct{ cid, port uint32 }

func (d vsockDialer) DialContext(ctx context.Context) (net.Conn, error) {
	// vsock.Dial takes no context: run it aside and give up on it when
	// the context ends.
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := vsock.Dial(d.cid, d.port, nil)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		ch <- result{c, nil}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

func (d vsockDialer) String() string { return fmt.Sprintf("vsock CID %d port %d", d.cid, d.port) }

// Fetch asks the host for the config over vsock, or returns ErrNoConfig.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	if err := h.Cmd().Run(ctx, []string{modprobeCmd, module}); err != nil {
		h.Log.Warning("loading %s: %v", module, err)
	}
	return fetchWith(ctx, h, vsockDialer{cid: HostCID, port: Port}, firstPause)
}

// errRetry marks failures worth another try.
type errRetry struct{ error }

func (e errRetry) Unwrap() error { return e.error }

func fetchWith(ctx context.Context, h providers.Host, d dialer, pause time.Duration) ([]byte, error) {
	h.Log.Info("fetching the config over HTTP from %s", d)
	var err error
	for try := 1; try <= attempts; try++ {
		var raw []byte
		raw, err = get(ctx, d)
		var retry errRetry
		if !errors.As(err, &retry) {
			return raw, err
		}
		if try == attempts {
			break
		}
		h.Log.Info("attempt %d: %v; retrying in %v", try, err, pause)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, fmt.Errorf("fetching the config from %s: %w (after %v)", d, ctx.Err(), err)
		}
		pause *= 2
	}
	return nil, fmt.Errorf("fetching the config from %s: giving up after %d attempts: %w", d, attempts, err)
}

// get makes one request.
func get(ctx context.Context, d dialer) ([]byte, error) {
	client := &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx) },
		DisableKeepAlives: true,
		Proxy:             nil, // never a proxy: this is not the network
	}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://vsock/", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", configs.Accept)
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, errRetry{fmt.Errorf("connecting: %w", err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s answered 404 Not Found", providers.ErrNoConfig, d)
	case resp.StatusCode >= 500:
		return nil, errRetry{fmt.Errorf("%s answered %s", d, resp.Status)}
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetching the config from %s: %s", d, resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, config.MaxSize+1))
	if err != nil {
		return nil, errRetry{fmt.Errorf("reading the answer of %s: %w", d, err)}
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: %s answered with an empty config", providers.ErrNoConfig, d)
	}
	return providers.MaybeGunzip(raw)
}
