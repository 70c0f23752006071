// Package cloudstack is the Apache CloudStack platform (cloudstack).
// CloudStack gives an instance its user data one of two ways, depending
// on the network offering:
//
//   - a config drive: a filesystem labelled config-2 (CONFIG-2 on some
//     tools) holding cloudstack/userdata/user_data.txt;
//   - the virtual router's metadata service, on the address of the DHCP
//     server that leased the instance its address:
//     http://<DHCP server>/latest/user-data (404 when there is none). The
//     router also answers to the DNS name data-server, which is used when
//     no DHCP lease can be read.
//
// The config drive is read first, as it needs no network (fetch-offline
// can use it); without one, the metadata service is asked, which in
// fetch-offline means retrying in the fetch stage with the network up.
// The DHCP server's address is read from the lease files the initramfs's
// DHCP client leaves: systemd-networkd's, NetworkManager's or dhclient's.
package cloudstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

const (
	// drivePath is the user data's path on the config drive.
	drivePath = "cloudstack/userdata/user_data.txt"
	// userDataPath is the user data's path on the metadata service.
	userDataPath = "/latest/user-data"
	// dataServer is the virtual router's DNS name.
	dataServer = "data-server"
)

// driveLabels are the config drive's labels.
var driveLabels = []string{"config-2", "CONFIG-2"}

// leaseGlobs are where DHCP clients keep their leases, in the order they
// are read: systemd-networkd, NetworkManager (its per-device state, whose
// [dhcp4] section has the options), dhclient.
var leaseGlobs = []string{
	"/run/systemd/netif/leases/*",
	"/run/NetworkManager/devices/*",
	"/var/lib/dhclient/*.lease*",
	"/var/lib/dhcp/*.lease*",
}

// Fetch returns the user data from the config drive or the metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, func() ([]string, error) { return leaseServers(leaseGlobs) })
}

// fetchFrom is Fetch with servers telling the DHCP servers' addresses
// (tests give their own, with a port).
func fetchFrom(ctx context.Context, h providers.Host, servers func() ([]string, error)) ([]byte, error) {
	cfg, err := providers.UserDataFromDrive(ctx, h, drivePath, driveLabels...)
	if !errors.Is(err, providers.ErrNoDrive) {
		// A config, a drive without user data (ErrNoConfig), or a failure.
		return cfg, err
	}
	h.Log.Info("no config drive labelled %s; asking the metadata service", strings.Join(driveLabels, " or "))

	server := dataServer
	addrs, err := servers()
	switch {
	case err != nil:
		h.Log.Warning("reading the DHCP leases: %v; using %s", err, dataServer)
	case len(addrs) == 0:
		h.Log.Info("no DHCP lease found; using %s", dataServer)
	default:
		server = addrs[0]
		if len(addrs) > 1 {
			h.Log.Info("DHCP servers %v; using the first", addrs)
		}
	}

	url := "http://" + server + userDataPath
	h.Log.Info("fetching the user data from %s", url)
	raw, err := h.Fetcher.FetchBytes(ctx, resource.Request{URL: url}, config.MaxSize)
	switch {
	case resource.HTTPStatus(err) == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s answered 404 Not Found", providers.ErrNoConfig, url)
	case err != nil:
		return nil, err
	case len(bytes.TrimSpace(raw)) == 0:
		return nil, fmt.Errorf("%w: the user data at %s is empty", providers.ErrNoConfig, url)
	}
	cfg, err = providers.MaybeGunzip(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return cfg, nil
}

// The DHCP server's address in each lease format: networkd's
// SERVER_ADDRESS=, NetworkManager's dhcp_server_identifier= and
// dhclient's "option dhcp-server-identifier A.B.C.D;" (a dhclient file
// holds every lease it got, the newest last).
var leasePatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?m)^SERVER_ADDRESS=(\S+)\s*$`),
	regexp.MustCompile(`(?m)^(?:dhcp4\.)?dhcp_server_identifier\s*=\s*(\S+)\s*$`),
	regexp.MustCompile(`option\s+dhcp-server-identifier\s+([0-9.]+)\s*;`),
}

// leaseServers returns the DHCP servers named by the lease files matching
// globs, in glob order, without duplicates.
func leaseServers(globs []string) ([]string, error) {
	var servers []string
	for _, g := range globs {
		paths, err := filepath.Glob(g)
		if err != nil {
			return nil, fmt.Errorf("lease pattern %s: %w", g, err)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue // gone since the glob
				}
				return nil, fmt.Errorf("reading DHCP lease %s: %w", p, err)
			}
			if s := leaseServer(data); s != "" && !slices.Contains(servers, s) {
				servers = append(servers, s)
			}
		}
	}
	return servers, nil
}

// leaseServer returns the DHCP server address a lease file names, or "".
func leaseServer(data []byte) string {
	for _, re := range leasePatterns {
		m := re.FindAllSubmatch(data, -1)
		if len(m) == 0 {
			continue
		}
		ip := net.ParseIP(string(m[len(m)-1][1]))
		if ip == nil || ip.To4() == nil {
			continue // DHCPv4 servers only; anything else is not an address
		}
		return ip.String()
	}
	return ""
}
