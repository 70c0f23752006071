// Package providertest checks what providers of one kind have in common,
// so each provider's test states only its own facts.
package providertest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/providers/drivetest"
)

// Layout is where a config-drive platform keeps the user data: the
// drive's label (upper case is accepted too), the file on it, and a label
// of another platform's drive that must not be taken for it.
type Layout struct {
	Label, OtherLabel, Path string
}

// CheckDriveProvider runs a config-drive provider's fetch against fake drives:
// the user data on a drive with the label (either case) is the config;
// another platform's drive, a drive without the file, and no drive are
// no config; a blkid that cannot look is a failure; nothing is left
// mounted.
func CheckDriveProvider(t *testing.T, fetch providers.Fetch, l Layout) {
	t.Helper()
	const cfg = `{"ignition": {"version": "3.4.0"}}`
	for _, tc := range []struct {
		name   string
		drives []*drivetest.Drive
		want   string
	}{
		{"drive", []*drivetest.Drive{{Device: "/dev/sr0", Label: l.Label, Files: map[string]string{l.Path: cfg}}}, cfg},
		{"upper-case label", []*drivetest.Drive{{Device: "/dev/sr0", Label: strings.ToUpper(l.Label), Files: map[string]string{l.Path: cfg}}}, cfg},
		{"other label", []*drivetest.Drive{{Device: "/dev/sr0", Label: l.OtherLabel, Files: map[string]string{l.Path: cfg}}}, ""},
		{"no user data", []*drivetest.Drive{{Device: "/dev/sr0", Label: l.Label, Files: map[string]string{l.Path + ".not": cfg}}}, ""},
		{"no drive", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &drivetest.Runner{Drives: tc.drives}
			got, err := fetch(context.Background(), providers.Host{Log: log.Discard(), Commands: r})
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
	t.Run("blkid fails", func(t *testing.T) {
		r := &drivetest.Runner{BlkidErr: drivetest.ExitStatus(4)}
		_, err := fetch(context.Background(), providers.Host{Log: log.Discard(), Commands: r})
		if err == nil || errors.Is(err, providers.ErrNoConfig) {
			t.Fatalf("err = %v, want a failure: a blkid that cannot look is not \"no config\"", err)
		}
	})
}
