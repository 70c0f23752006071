// Package proxmoxve is the Proxmox VE platform (proxmoxve). Proxmox hands
// a VM its cloud-init data on a NoCloud drive, a filesystem labelled
// cidata, with the files user-data, vendor-data, meta-data and
// network-config. Unless the user sets a custom user-data snippet
// (qm set --cicustom user=…), Proxmox writes a #cloud-config of its own
// there (hostname, users, keys), which is not an Ignition config; users
// who keep it give their Ignition config as the vendor-data snippet
// instead (--cicustom vendor=…). So user-data is used when it is an
// Ignition config (JSON: an object), and vendor-data otherwise; a file
// that is not (#cloud-config, a script, anything else cloud-init reads)
// is left to cloud-init, as Ignition does. One that starts as a JSON
// object is taken for a config even when it does not parse: its parse
// error, with line and column, beats booting unprovisioned without a word.
package proxmoxve

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/ignition-go/ignition/internal/providers"
)

// labels are the NoCloud drive's (either case, as FAT and ISO 9660 tools
// may upper-case them).
var labels = []string{"cidata", "CIDATA"}

// files are read in order; the first holding an Ignition config wins.
var files = []string{"user-data", "vendor-data"}

// Fetch reads the user config from the cloud-init drive.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	for _, name := range files {
		cfg, err := providers.UserDataFromDrive(ctx, h, name, labels...)
		switch {
		case errors.Is(err, providers.ErrNoDrive):
			return nil, err // wraps ErrNoConfig; no point looking again
		case errors.Is(err, providers.ErrNoConfig):
			h.Log.Info("%v", err)
			continue
		case err != nil:
			return nil, err
		case !bytes.HasPrefix(bytes.TrimSpace(cfg), []byte("{")):
			h.Log.Info("%s on the cloud-init drive is for cloud-init (it starts with %q), not Ignition", name, firstLine(cfg))
			continue
		}
		h.Log.Info("using %s from the cloud-init drive", name)
		return cfg, nil
	}
	return nil, fmt.Errorf("%w: neither user-data nor vendor-data on the cloud-init drive is an Ignition config", providers.ErrNoConfig)
}

// firstLine returns the first line of b, for messages, bounded.
func firstLine(b []byte) string {
	b = bytes.TrimSpace(b)
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return string(bytes.TrimSpace(b))
}
