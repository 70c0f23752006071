// Package openstack is the OpenStack platform (openstack). Nova gives an
// instance its user data two ways, and a cloud may offer either or both:
//
//   - a config drive: a filesystem labelled config-2 (CONFIG-2 on some
//     tools) holding openstack/latest/user_data;
//   - the metadata service, http://169.254.169.254/openstack/latest/user_data,
//     also reachable over IPv6 at the link-local fe80::a9fe:a9fe, which
//     needs the interface as its zone (http://[fe80::a9fe:a9fe%25eth0]/…).
//
// The config drive is read first, as it needs no network (fetch-offline
// can use it). Without one, the drive (which may show up late), the IPv4
// service and the IPv6 service on every interface that is up are raced:
// the first to answer wins, and an answer of "no user data" (404, or a
// drive without the file) is as good as a config. When none answers
// within raceTimeout the user gave no config (a cloud with neither source
// has nothing to give); when one failed outright, that failure is the
// error.
package openstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

const (
	// metadataV4 is the metadata service over IPv4.
	metadataV4   = "http://169.254.169.254"
	userDataPath = "/openstack/latest/user_data"
	// drivePath is the user data's path on the config drive.
	drivePath = "openstack/latest/user_data"
	// raceTimeout bounds the wait for a drive or a metadata service when
	// the first look found no drive.
	raceTimeout = 30 * time.Second
	// drivePoll is how often the race looks for the drive again.
	drivePoll = time.Second
)

// driveLabels are the config drive's labels.
var driveLabels = []string{"config-2", "CONFIG-2"}

// metadataV6 is the metadata service over IPv6 on iface: a link-local
// address means nothing without its zone, whose "%" a URL escapes.
func metadataV6(iface string) string {
	return "http://[fe80::a9fe:a9fe%25" + iface + "]"
}

// race is where Fetch looks and for how long; tests use their own.
type race struct {
	v4         string                    // base URL of the IPv4 service
	v6         func(iface string) string // base URL of the IPv6 service on iface
	interfaces func() ([]string, error)  // the interfaces to try IPv6 on
	timeout    time.Duration
	poll       time.Duration
}

var production = race{
	v4:         metadataV4,
	v6:         metadataV6,
	interfaces: upInterfaces,
	timeout:    raceTimeout,
	poll:       drivePoll,
}

// Fetch returns the user data from the config drive or the metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, production)
}

// answer is what one source of the race came back with.
type answer struct {
	from string
	cfg  []byte
	err  error
}

func fetchFrom(ctx context.Context, h providers.Host, r race) ([]byte, error) {
	cfg, err := providers.UserDataFromDrive(ctx, h, drivePath, driveLabels...)
	if !errors.Is(err, providers.ErrNoDrive) {
		// A config, a drive without user data (ErrNoConfig), or a failure.
		return cfg, err
	}
	h.Log.Info("no config drive yet; racing it against the metadata service for up to %s", r.timeout)

	raceCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	ifaces, err := r.interfaces()
	if err != nil {
		h.Log.Warning("listing network interfaces for the IPv6 metadata service: %v", err)
	}
	n := 2 + len(ifaces)
	answers := make(chan answer, n) // buffered: losers never block
	go func() {
		hh := h
		hh.Log = h.Log.Fork()
		answers <- pollDrive(raceCtx, hh, r.poll)
	}()
	urls := []string{r.v4 + userDataPath}
	for _, iface := range ifaces {
		urls = append(urls, r.v6(iface)+userDataPath)
	}
	for _, url := range urls {
		go func() {
			hh := h
			hh.Log = h.Log.Fork()
			answers <- fetchURL(raceCtx, hh, url)
		}()
	}

	var failures []string
	var hard error // a failure that is not running out of time
	for range n {
		a := <-answers
		switch {
		case a.err == nil:
			h.Log.Info("using the user data from %s", a.from)
			return a.cfg, nil
		case errors.Is(a.err, providers.ErrNoConfig), errors.Is(a.err, resource.ErrNeedsNetwork):
			// "None" is an answer; needing the network (fetch-offline)
			// sends us to the fetch stage, which races again.
			return nil, a.err
		}
		failures = append(failures, fmt.Sprintf("%s: %v", a.from, a.err))
		if hard == nil && !errors.Is(a.err, context.DeadlineExceeded) && !errors.Is(a.err, context.Canceled) {
			hard = a.err
		}
	}
	switch {
	case ctx.Err() != nil:
		// Say what was tried and how each attempt last failed: "deadline
		// exceeded" alone does not tell an unreachable service from a slow one.
		return nil, fmt.Errorf("looking for the config drive and the metadata service: %w (%s)",
			context.Cause(ctx), strings.Join(failures, "; "))
	case hard != nil:
		return nil, fmt.Errorf("no config drive and the metadata service failed: %s", strings.Join(failures, "; "))
	}
	return nil, fmt.Errorf("%w: no config drive appeared and no metadata service answered within %s (%s)",
		providers.ErrNoConfig, r.timeout, strings.Join(failures, "; "))
}

// pollDrive looks for the config drive every poll until ctx ends.
func pollDrive(ctx context.Context, h providers.Host, poll time.Duration) answer {
	from := "the config drive"
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return answer{from: from, err: fmt.Errorf("none labelled %s: %w", strings.Join(driveLabels, " or "), context.Cause(ctx))}
		case <-t.C:
		}
		cfg, err := providers.UserDataFromDrive(ctx, h, drivePath, driveLabels...)
		if !errors.Is(err, providers.ErrNoDrive) {
			return answer{from: from, cfg: cfg, err: err}
		}
	}
}

// fetchURL fetches the user data from one address of the metadata service.
func fetchURL(ctx context.Context, h providers.Host, url string) answer {
	h.Log.Info("fetching the user data from %s", url)
	raw, err := h.Fetcher.FetchBytes(ctx, resource.Request{URL: url}, config.MaxSize)
	switch {
	case resource.HTTPStatus(err) == http.StatusNotFound:
		return answer{from: url, err: fmt.Errorf("%w: %s answered 404 Not Found", providers.ErrNoConfig, url)}
	case err != nil:
		return answer{from: url, err: err}
	case len(raw) == 0:
		return answer{from: url, err: fmt.Errorf("%w: the user data at %s is empty", providers.ErrNoConfig, url)}
	}
	cfg, err := providers.MaybeGunzip(raw)
	if err != nil {
		err = fmt.Errorf("%s: %w", url, err)
	}
	return answer{from: url, cfg: cfg, err: err}
}

// upInterfaces names the interfaces that are up, but not loopback: the
// ones a link-local metadata service may be on.
func upInterfaces() ([]string, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, i := range all {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 {
			names = append(names, i.Name)
		}
	}
	return names, nil
}
