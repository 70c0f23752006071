package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/config/types"
)

// bigConfig builds a valid 3.6.0 config with the given counts; file
// contents are data URLs sized so that the whole is about 10 MB with the
// benchmark's counts.
func bigConfig(files, units, users int) []byte {
	str := func(s string) *string { return &s }
	num := func(i int) *int { return &i }
	yes := true
	var cfg types.Config
	cfg.Ignition.Version = "3.6.0"
	body := strings.Repeat("0123456789abcdef", 120) // 1920 bytes
	for i := range files {
		f := types.File{Mode: num(0o644)}
		f.Path = fmt.Sprintf("/etc/generated/dir%03d/file%05d.conf", i%100, i)
		f.Contents.Source = str("data:," + body)
		f.Contents.Verification.Hash = str("sha256-" + strings.Repeat("ab", 32))
		f.User.Name = str("core")
		cfg.Storage.Files = append(cfg.Storage.Files, f)
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
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		panic(err)
	}
	return raw
}

func TestBigConfigIsValid(t *testing.T) {
	raw := bigConfig(50, 5, 2)
	if _, r, err := Parse(raw); err != nil || len(r.Entries) != 0 {
		t.Fatalf("%v %q", err, lines(r))
	}
}

// BenchmarkParseValidate parses and validates a ~10 MB config with 5,000
// files, 500 units and 100 users.
func BenchmarkParseValidate(b *testing.B) {
	raw := bigConfig(5000, 500, 100)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodingJSONBaseline is plain encoding/json decoding of the same
// config into the same types: no positions, no version gating, no rules. It
// is the yardstick for BenchmarkParseValidate (compare the two as a ratio).
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	raw := bigConfig(5000, 500, 100)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var cfg types.Config
		if err := json.Unmarshal(raw, &cfg); err != nil {
			b.Fatal(err)
		}
	}
}
