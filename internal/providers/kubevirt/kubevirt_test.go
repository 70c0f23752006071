package kubevirt

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/providers/drivetest"
)

const (
	cfg   = `{"ignition": {"version": "3.4.0"}}`
	other = `{"ignition": {"version": "3.3.0"}}`
)

func TestFetch(t *testing.T) {
	noCloud := &drivetest.Drive{Device: "/dev/vdb", Label: "cidata", Files: map[string]string{"user-data": cfg, "meta-data": "instance-id: x"}}
	configDrive := &drivetest.Drive{Device: "/dev/vdc", Label: "config-2", Files: map[string]string{"openstack/latest/user_data": other}}
	emptyNoCloud := &drivetest.Drive{Device: "/dev/vdb", Label: "CIDATA", Files: map[string]string{"meta-data": "instance-id: x"}}
	for _, tc := range []struct {
		name   string
		drives []*drivetest.Drive
		want   string
	}{
		{"NoCloud", []*drivetest.Drive{noCloud}, cfg},
		{"ConfigDrive", []*drivetest.Drive{configDrive}, other},
		{"NoCloud first", []*drivetest.Drive{configDrive, noCloud}, cfg},
		{"NoCloud without user data, ConfigDrive with", []*drivetest.Drive{emptyNoCloud, configDrive}, other},
		{"neither", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &drivetest.Runner{Drives: tc.drives}
			got, err := Fetch(context.Background(), providers.Host{Log: log.Discard(), Commands: r})
			if tc.want == "" {
				if !errors.Is(err, providers.ErrNoConfig) || !strings.Contains(err.Error(), "user-data on a drive labelled cidata or CIDATA, nor in openstack/latest/user_data on a drive labelled config-2 or CONFIG-2") {
					t.Fatalf("= %q, %v; want ErrNoConfig naming both places", got, err)
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
	r := &drivetest.Runner{BlkidErr: drivetest.ExitStatus(8)}
	_, err := Fetch(context.Background(), providers.Host{Log: log.Discard(), Commands: r})
	if err == nil || errors.Is(err, providers.ErrNoConfig) {
		t.Fatalf("err = %v, want a failure", err)
	}
}
