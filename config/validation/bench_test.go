package validation_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/config/v3_6"
	"github.com/ignition-go/ignition/config/validation"
)

// bigConfig is a valid config of about 10 MB: files with data URLs, units
// with drop-ins, users, and links that every file path must be checked
// against.
func bigConfig(files, links, units, users int) *types.Config {
	str := func(s string) *string { return &s }
	num := func(i int) *int { return &i }
	yes := true
	var cfg types.Config
	body := strings.Repeat("0123456789abcdef", 120)
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
			SSHAuthorizedKeys: []string{fmt.Sprintf("ssh-ed25519 AAAA%040d user%d", i, i)},
		})
	}
	return &cfg
}

// TestBigConfigIsFast guards against quadratic checks creeping in: the
// config below takes a few milliseconds to validate, so even a slow,
// loaded machine stays far below the limit, while a check quadratic in the
// number of files (25 million path comparisons) would not.
func TestBigConfigIsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	cfg := bigConfig(20000, 2000, 500, 100)
	start := time.Now()
	r := validation.Validate(cfg, &v3_6.Spec)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("validation took %v", d)
	}
	if len(r.Entries) != 0 {
		t.Fatalf("unexpected entries: %v", r)
	}
}

func BenchmarkValidate(b *testing.B) {
	cfg := bigConfig(5000, 100, 500, 100)
	b.ReportAllocs()
	for b.Loop() {
		if r := validation.Validate(cfg, &v3_6.Spec); len(r.Entries) != 0 {
			b.Fatal(r)
		}
	}
}
