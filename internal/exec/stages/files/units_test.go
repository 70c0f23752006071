package files

import (
	"encoding/json"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// systemd returns a 3.6.0 config with the given units.
func systemd(units string) string {
	return `{"ignition":{"version":"3.6.0"},"systemd":{"units":[` + units + `]}}`
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestUnitsAndDropins(t *testing.T) {
	fx := newFixture(t)
	unit := "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"
	err := fx.run(systemd(`
		{"name":"a.service","contents":` + jsonString(unit) + `,
		 "dropins":[{"name":"10-env.conf","contents":"[Service]\nEnvironment=X=1\n"},{"name":"empty.conf"}]},
		{"name":"b.service","dropins":[{"name":"override.conf","contents":"[Unit]\nDescription=b\n"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"etc/systemd/system/a.service":                 unit,
		"etc/systemd/system/a.service.d/10-env.conf":   "[Service]\nEnvironment=X=1\n",
		"etc/systemd/system/b.service.d/override.conf": "[Unit]\nDescription=b\n",
	} {
		if got := fx.read(p); got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
		if got := fx.mode(p); got != 0o644 {
			t.Errorf("%s: mode %v", p, got)
		}
		if got := fx.owner(p); got != [2]int{0, 0} {
			t.Errorf("%s: owner %v", p, got)
		}
	}
	for _, p := range []string{"etc/systemd/system/a.service.d/empty.conf", "etc/systemd/system/b.service", "etc/systemd/system-preset"} {
		if fx.exists(p) {
			t.Errorf("%s was written", p)
		}
	}
	logs := fx.logs.String()
	for _, want := range []string{
		`[started]  processing unit "a.service"`,
		`[finished] writing unit "a.service" at "/etc/systemd/system/a.service"`,
		`[finished] writing drop-in "10-env.conf" at "/etc/systemd/system/a.service.d/10-env.conf"`,
		`[finished] processing unit "b.service"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestPresets(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing string // preset file already there
		units    string
		want     string
	}{
		{
			name: "enable and disable in unit order; unset is left out",
			units: `{"name":"a.service","enabled":true},{"name":"b.socket","enabled":false},
				{"name":"c.service"},{"name":"d.timer","enabled":true}`,
			want: "enable a.service\ndisable b.socket\nenable d.timer\n",
		},
		{
			name: "instances of a template share a line",
			units: `{"name":"echo@.service","contents":"[Service]\nExecStart=/bin/echo %i\n[Install]\nWantedBy=multi-user.target\n"},
				{"name":"echo@foo.service","enabled":true},
				{"name":"x.service","enabled":true},
				{"name":"echo@bar.baz.service","enabled":true},
				{"name":"getty@tty1.service","enabled":false}`,
			want: "enable echo@.service foo bar.baz\nenable x.service\ndisable getty@tty1.service\n",
		},
		{
			name:     "lines already in the file are kept",
			existing: "enable old.service",
			units:    `{"name":"a.service","enabled":true}`,
			want:     "enable old.service\nenable a.service\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			if tc.existing != "" {
				fx.write("etc/systemd/system-preset/20-ignition.preset", tc.existing, 0o644)
			}
			if err := fx.run(systemd(tc.units)); err != nil {
				t.Fatal(err)
			}
			p := "etc/systemd/system-preset/20-ignition.preset"
			if got := fx.read(p); got != tc.want {
				t.Errorf("preset file:\n%s\nwant:\n%s", got, tc.want)
			}
			if got := fx.mode(p); got != 0o644 {
				t.Errorf("mode %v", got)
			}
		})
	}
}

func TestMask(t *testing.T) {
	fx := newFixture(t)
	fx.write("etc/systemd/system/old.service", "[Service]\n", 0o644)
	fx.symlink("/dev/null", "etc/systemd/system/masked.service")
	fx.symlink("/usr/lib/systemd/system/other.service", "etc/systemd/system/aliased.service")
	err := fx.run(systemd(`
		{"name":"new.service","mask":true},
		{"name":"old.service","mask":true},
		{"name":"masked.service","mask":false},
		{"name":"aliased.service","mask":false},
		{"name":"absent.service","mask":false}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"etc/systemd/system/new.service", "etc/systemd/system/old.service"} {
		if got, err := os.Readlink(fx.host(p)); err != nil || got != "/dev/null" {
			t.Errorf("%s: %q, %v; want a link to /dev/null", p, got, err)
		}
	}
	if fx.exists("etc/systemd/system/masked.service") {
		t.Error("unmask left the /dev/null link")
	}
	if got, _ := os.Readlink(fx.host("etc/systemd/system/aliased.service")); got != "/usr/lib/systemd/system/other.service" {
		t.Errorf("unmask removed a link that is not a mask: %q", got)
	}
	if fx.exists("etc/systemd/system/absent.service") {
		t.Error("unmasking created something")
	}
	if !strings.Contains(fx.logs.String(), `[finished] masking unit "new.service"`) {
		t.Errorf("logs:\n%s", fx.logs.String())
	}
}

// TestUnitsStayInTheRoot: /etc/systemd/system reached through an absolute
// symlink in the target is the target's, not the host's.
func TestUnitsStayInTheRoot(t *testing.T) {
	fx := newFixture(t)
	fx.mkdir("usr/etc/systemd")
	fx.symlink("/usr/etc", "etc")
	if err := fx.run(systemd(`{"name":"a.service","contents":"[Service]\n","enabled":true}`)); err != nil {
		t.Fatal(err)
	}
	if got := fx.read("usr/etc/systemd/system/a.service"); got != "[Service]\n" {
		t.Errorf("unit: %q", got)
	}
	if fi := fx.lstat("etc"); fi.Mode()&fs.ModeSymlink == 0 {
		t.Error("/etc was replaced")
	}
	if got := fx.read("usr/etc/systemd/system-preset/20-ignition.preset"); got != "enable a.service\n" {
		t.Errorf("presets: %q", got)
	}
}
