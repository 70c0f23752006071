package powervs

import (
	"context"
	"errors"
	"testing"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/providers/drivetest"
)

const cfg = `{"ignition": {"version": "3.4.0"}}`

func TestFetch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		drives []*drivetest.Drive
		want   string
	}{
		{"drive", []*drivetest.Drive{{Device: "/dev/sr0", Label: "config-2", Files: map[string]string{"openstack/latest/user_data": cfg}}}, cfg},
		{"upper-case label", []*drivetest.Drive{{Device: "/dev/sr0", Label: "CONFIG-2", Files: map[string]string{"openstack/latest/user_data": cfg}}}, cfg},
		{"other label", []*drivetest.Drive{{Device: "/dev/sr0", Label: "cidata", Files: map[string]string{"openstack/latest/user_data": cfg}}}, ""},
		{"no user data", []*drivetest.Drive{{Device: "/dev/sr0", Label: "config-2", Files: map[string]string{"openstack/latest/meta_data.json": cfg}}}, ""},
		{"no drive", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &drivetest.Runner{Drives: tc.drives}
			h := providers.Host{Log: log.Discard(), Commands: r}
			got, err := Fetch(context.Background(), h)
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

// A blkid that cannot look is a failure, not "no config".
func TestBlkidFails(t *testing.T) {
	r := &drivetest.Runner{BlkidErr: drivetest.ExitStatus(4)}
	_, err := Fetch(context.Background(), providers.Host{Log: log.Discard(), Commands: r})
	if err == nil || errors.Is(err, providers.ErrNoConfig) {
		t.Fatalf("err = %v, want a failure", err)
	}
}
