package proxmoxve

import (
	"context"
	"errors"
	"testing"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/providers/drivetest"
)

const (
	cfg         = `{"ignition": {"version": "3.4.0"}}`
	vendorCfg   = `{"ignition": {"version": "3.3.0"}}`
	cloudConfig = "#cloud-config\nhostname: pve-vm\nmanage_etc_hosts: true\n"
)

func TestFetch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string // nil: no drive
		want  string
	}{
		{"user-data", map[string]string{"user-data": cfg, "vendor-data": vendorCfg}, cfg},
		{"Proxmox's own user-data, config in vendor-data", map[string]string{"user-data": cloudConfig, "vendor-data": vendorCfg}, vendorCfg},
		{"no user-data, config in vendor-data", map[string]string{"vendor-data": vendorCfg, "meta-data": "instance-id: 1"}, vendorCfg},
		{"empty user-data", map[string]string{"user-data": "", "vendor-data": vendorCfg}, vendorCfg},
		{"cloud-init only", map[string]string{"user-data": cloudConfig, "vendor-data": "#cloud-config\n"}, ""},
		{"script", map[string]string{"user-data": "#!/bin/sh\necho hi\n"}, ""},
		{"other cloud-init formats, config in vendor-data", map[string]string{"user-data": "Content-Type: multipart/mixed; boundary=x\n", "vendor-data": vendorCfg}, vendorCfg},
		{"a config that does not parse is still the config", map[string]string{"user-data": `{"ignition": {`, "vendor-data": vendorCfg}, `{"ignition": {`},
		{"no drive", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &drivetest.Runner{}
			if tc.files != nil {
				r.Drives = []*drivetest.Drive{{Device: "/dev/sr0", Label: "cidata", Files: tc.files}}
			}
			got, err := Fetch(context.Background(), providers.Host{Log: log.Discard(), Commands: r})
			if tc.want == "" {
				if !errors.Is(err, providers.ErrNoConfig) {
					t.Fatalf("= %q, %v; want ErrNoConfig", got, err)
				}
			} else if err != nil || string(got) != tc.want {
				t.Fatalf("= %q, %v; want %q", got, err, tc.want)
			}
			if m := r.Mounted(); len(m) != 0 {
				t.Errorf("left mounted: %v", m)
			}
		})
	}
}

func TestBlkidFails(t *testing.T) {
	r := &drivetest.Runner{BlkidErr: drivetest.ExitStatus(4)}
	_, err := Fetch(context.Background(), providers.Host{Log: log.Discard(), Commands: r})
	if err == nil || errors.Is(err, providers.ErrNoConfig) {
		t.Fatalf("err = %v, want a failure", err)
	}
}
