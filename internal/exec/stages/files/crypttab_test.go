package files

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// luksKeys is a disks-stage key directory: the keys it kept, and the
// record of the volumes it made (the format disks.ReadLuksVolumes reads).
func luksKeys(t *testing.T, keys map[string]string, record string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "luks-keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, key := range keys {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(key), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	if record != "" {
		if err := os.WriteFile(dir+".json", []byte(record), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// luksConfig is a 3.5.0 config with the given storage.luks entries and
// files.
func luksConfig(luks, files string) string {
	return `{"ignition":{"version":"3.5.0"},"storage":{"luks":[` + luks + `],"files":[` + files + `]}}`
}

const luksRecord = `{"volumes":{
	"data":      {"device":"/dev/vdb","uuid":"0b5cbd1e-5a4b-4e8c-9d43-6c4c5b0e2a11"},
	"tangvol":   {"device":"/dev/vdc","uuid":"2c6dfe2f-6b5c-4f9d-8e54-7d5d6c1f3b22"},
	"tpmvol":    {"device":"/dev/vdd","uuid":"3d7e0f30-7c6d-40ae-9f65-8e6e7d204c33"},
	"customnet": {"device":"/dev/vde","uuid":"4e8f1041-8d7e-41bf-a076-9f7f8e315d44"},
	"customtpm": {"device":"/dev/vdf","uuid":"5f902152-9e8f-42c0-b187-a08090426e55"},
	"other":     {"device":"/dev/vdg","uuid":"60a13263-af90-43d1-c298-b191a1537f66"}
}}`

func TestCrypttab(t *testing.T) {
	fx := newFixture(t)
	fx.env.LuksKeyDir = luksKeys(t, map[string]string{
		"data":    "d1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2",
		"tangvol": "generated-for-tang",
		"tpmvol":  "from-the-config",
	}, luksRecord)
	err := fx.run(luksConfig(`
		{"name":"data","device":"/dev/vdb","discard":true},
		{"name":"tangvol","device":"/dev/vdc","clevis":{"tang":[{"url":"http://t","thumbprint":"x"}],"tpm2":true}},
		{"name":"tpmvol","device":"/dev/vdd","keyFile":{"source":"data:,from-the-config"},"clevis":{"tpm2":true},"discard":true},
		{"name":"customnet","device":"/dev/vde","clevis":{"custom":{"pin":"tang","config":"{}","needsNetwork":true}}},
		{"name":"customtpm","device":"/dev/vdf","clevis":{"custom":{"pin":"tpm2","config":"{}"}}}`, ""))
	if err != nil {
		t.Fatal(err)
	}
	want := `data UUID=0b5cbd1e-5a4b-4e8c-9d43-6c4c5b0e2a11 /etc/luks/data luks,discard
tangvol UUID=2c6dfe2f-6b5c-4f9d-8e54-7d5d6c1f3b22 none luks,_netdev
tpmvol UUID=3d7e0f30-7c6d-40ae-9f65-8e6e7d204c33 none luks,discard
customnet UUID=4e8f1041-8d7e-41bf-a076-9f7f8e315d44 none luks,_netdev
customtpm UUID=5f902152-9e8f-42c0-b187-a08090426e55 none luks
`
	if got := fx.read("etc/crypttab"); got != want {
		t.Errorf("crypttab:\n%s\nwant:\n%s", got, want)
	}
	if m := fx.mode("etc/crypttab"); m != 0o600 {
		t.Errorf("crypttab mode %v, want 0600", m)
	}

	// Only the volume without Clevis has its key in the target.
	if got := fx.read("etc/luks/data"); got != "d1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2" {
		t.Errorf("key = %q", got)
	}
	if m := fx.mode("etc/luks/data"); m != 0o600 {
		t.Errorf("key mode %v, want 0600", m)
	}
	if m := fx.mode("etc/luks"); m != 0o700 {
		t.Errorf("/etc/luks mode %v, want 0700", m)
	}
	for _, p := range []string{"etc/luks/data", "etc/luks", "etc/crypttab"} {
		if o := fx.owner(p); o != [2]int{0, 0} {
			t.Errorf("%s owner %v", p, o)
		}
	}
	for _, name := range []string{"tangvol", "tpmvol", "customnet", "customtpm"} {
		if fx.exists("etc/luks/" + name) {
			t.Errorf("the key of %s, bound with Clevis, is in the target", name)
		}
	}
	logs := fx.logs.String()
	for _, secret := range []string{"d1b2c3d4e5f6", "generated-for-tang", "from-the-config"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log has key material %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, `[finished] writing "/etc/crypttab"`) {
		t.Errorf("crypttab not logged:\n%s", logs)
	}
	if tmp := fx.tempFiles(); len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
}

// TestCrypttabKeepsOtherLines: the image's own crypttab lines (and one
// the config wrote with storage.files) stay; the volume's old line is
// replaced, not repeated, so a second run changes nothing.
func TestCrypttabKeepsOtherLines(t *testing.T) {
	fx := newFixture(t)
	fx.env.LuksKeyDir = luksKeys(t, map[string]string{"data": "k"}, luksRecord)
	fx.write("etc/crypttab", "# <name> <device> <key> <options>\nswap /dev/vdz /dev/urandom swap\ndata UUID=stale /etc/luks/data luks\n\n", 0o644)
	cfg := luksConfig(`{"name":"data","device":"/dev/vdb"}`,
		`{"path":"/etc/crypttab","append":[{"source":"data:,other%20UUID%3D60a13263-af90-43d1-c298-b191a1537f66%20none%20luks%0A"}]}`)
	for range 2 {
		if err := fx.run(cfg); err != nil {
			t.Fatal(err)
		}
	}
	// The appended line is appended again on the second run: that is
	// storage.files' append, not this stage's doing.
	want := `# <name> <device> <key> <options>
swap /dev/vdz /dev/urandom swap

other UUID=60a13263-af90-43d1-c298-b191a1537f66 none luks
other UUID=60a13263-af90-43d1-c298-b191a1537f66 none luks
data UUID=0b5cbd1e-5a4b-4e8c-9d43-6c4c5b0e2a11 /etc/luks/data luks
`
	if got := fx.read("etc/crypttab"); got != want {
		t.Errorf("crypttab:\n%s\nwant:\n%s", got, want)
	}
	if m := fx.mode("etc/crypttab"); m != 0o644 {
		t.Errorf("crypttab mode %v, want the existing 0644", m)
	}
}

func TestCrypttabErrors(t *testing.T) {
	tests := []struct {
		name   string
		keys   map[string]string
		record string
		luks   string
		setup  func(fx *fixture)
		want   string
	}{
		{
			name: "no record",
			luks: `{"name":"data","device":"/dev/vdb"}`,
			want: "storage.luks.0 (data): the disks stage left no record of the volume in ",
		},
		{
			name:   "volume not recorded",
			record: `{"volumes":{"other":{"device":"/dev/vdg","uuid":"u"}}}`,
			luks:   `{"name":"other","device":"/dev/vdg"},{"name":"data","device":"/dev/vdb"}`,
			keys:   map[string]string{"other": "k"},
			want:   "storage.luks.1 (data): the disks stage left no record of the volume in ",
		},
		{
			name:   "broken record",
			record: `{"volumes":`,
			luks:   `{"name":"data","device":"/dev/vdb"}`,
			want:   "storage.luks: reading ",
		},
		{
			name:   "no key kept",
			record: luksRecord,
			luks:   `{"name":"data","device":"/dev/vdb"}`,
			want:   "storage.luks.0 (data): reading the key the disks stage kept: open ",
		},
		{
			name:   "crypttab is a directory",
			record: luksRecord,
			keys:   map[string]string{"data": "k"},
			luks:   `{"name":"data","device":"/dev/vdb"}`,
			setup:  func(fx *fixture) { fx.mkdir("etc/crypttab") },
			want:   "storage.luks: /etc/crypttab: a directory is in the way",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.env.LuksKeyDir = luksKeys(t, tt.keys, tt.record)
			if tt.setup != nil {
				tt.setup(fx)
			}
			err := fx.run(luksConfig(tt.luks, ""))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %s…", err, tt.want)
			}
		})
	}
}

func TestCrypttabNoLuks(t *testing.T) {
	fx := newFixture(t)
	fx.env.LuksKeyDir = filepath.Join(t.TempDir(), "none")
	if err := fx.run(luksConfig("", "")); err != nil {
		t.Fatal(err)
	}
	if fx.exists("etc/crypttab") || fx.exists("etc/luks") {
		t.Errorf("wrote crypttab or key files without storage.luks")
	}
}
