// Package testconfig builds large, valid configs for tests and benchmarks.
package testconfig

import (
	"fmt"
	"strings"

	"github.com/ignition-go/ignition/config/types"
)

// Big returns a valid 3.6.0 config with the given numbers of files (each
// with a ~2 KB data URL, a hash and an owner), links, units (each with a
// drop-in) and users. 5,000 files make it about 10 MB as JSON.
func Big(files, links, units, users int) *types.Config {
	str := func(s string) *string { return &s }
	num := func(i int) *int { return &i }
	yes := true
	cfg := &types.Config{}
	cfg.Ignition.Version = "3.6.0"
	body := strings.Repeat("0123456789abcdef", 120) // 1920 bytes
	for i := range files {
		f := types.File{Mode: num(0o644)}
		f.Path = fmt.Sprintf("/etc/generated/dir%03d/sub/file%05d.conf", i%100, i)
		f.Contents.Source = str("data:," + body)
		f.Contents.Verification.Hash = str("sha256-" + strings.Repeat("ab", 32))
		f.User.Name = str("core")
		cfg.Storage.Files = append(cfg.Storage.Files, f)
	}
	for i := range links {
		l := types.Link{Target: str("/usr/share/x")}
		l.Path = fmt.Sprintf("/etc/links/link%04d", i)
		cfg.Storage.Links = append(cfg.Storage.Links, l)
	}
	for i := range units {
		cfg.Systemd.Units = append(cfg.Systemd.Units, types.Unit{
			Name:     fmt.Sprintf("generated-%03d.service", i),
			Enabled:  &yes,
			Contents: str(fmt.Sprintf("[Unit]\nDescription=Generated %d\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/true %d\n\n[Install]\nWantedBy=multi-user.target\n", i, i)),
			Dropins:  []types.Dropin{{Name: "10-env.conf", Contents: str("[Service]\nEnvironment=A=1\n")}},
		})
	}
	for i := range users {
		cfg.Passwd.Users = append(cfg.Passwd.Users, types.PasswdUser{
			Name:              fmt.Sprintf("user%03d", i),
			UID:               num(2000 + i),
			Groups:            []string{"wheel", "adm"},
			SSHAuthorizedKeys: []string{fmt.Sprintf("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%040d user%d", i, i)},
		})
	}
	return cfg
}
