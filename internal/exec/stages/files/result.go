package files

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ignition-go/ignition/internal/distro"
)

// report is the provisioning report Ignition leaves in the target, read
// by the distribution's scripts after boot (e.g. to tell the first boot
// from later ones, or whether the machine got a user config).
type report struct {
	// ProvisioningBootID is the kernel's ID of the boot that provisioned
	// the machine (/proc/sys/kernel/random/boot_id).
	ProvisioningBootID string `json:"provisioningBootID"`
	// ProvisioningDate is when, in RFC 3339 UTC.
	ProvisioningDate string `json:"provisioningDate"`
	// UserConfigProvided is false when only base configs were applied.
	UserConfigProvided bool `json:"userConfigProvided"`
}

// result writes the report to distro.ResultFile() in the target,
// atomically, mode 0644, owned by root. It replaces an earlier report.
func (s *stage) result() error {
	p := distro.ResultFile()
	err := s.log.LogOp(func() error {
		bootIDFile := s.env.BootIDFile
		if bootIDFile == "" {
			bootIDFile = distro.BootIDFile()
		}
		id, err := os.ReadFile(bootIDFile)
		if err != nil {
			return fmt.Errorf("reading the boot ID: %w", err)
		}
		now := time.Now
		if s.env.Now != nil {
			now = s.env.Now
		}
		raw, err := json.Marshal(report{
			ProvisioningBootID: strings.TrimSpace(string(id)),
			ProvisioningDate:   now().UTC().Format(time.RFC3339),
			UserConfigProvided: s.env.UserConfigProvided,
		})
		if err != nil {
			return err
		}
		n, err := resolve(s.root, p)
		if err != nil {
			return err
		}
		if err := s.mkdirs(n.Dir); err != nil {
			return err
		}
		fi, err := s.existing(n)
		if err != nil {
			return err
		}
		if fi != nil && fi.IsDir() {
			return fmt.Errorf("%s is in the way", kind(fi.Mode()))
		}
		return s.writeFile(n, meta{mode: 0o644}, func(w io.Writer) error {
			_, err := w.Write(append(raw, '\n'))
			return err
		})
	}, "writing the provisioning report %q", p)
	if err != nil {
		return fmt.Errorf("provisioning report (%s): %w", p, err)
	}
	return nil
}
