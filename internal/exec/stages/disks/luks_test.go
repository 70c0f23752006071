package disks

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/config/types"
)

// freshDisk is what the fake host answers for an empty /dev/vdb that
// becomes the volume "data".
func freshDisk() map[string]reply {
	return map[string]reply{
		"blkid -p -o export /dev/vdb":  {exit: 2},
		"cryptsetup luksUUID /dev/vdb": {out: "0b5cbd1e-5a4b-4e8c-9d43-6c4c5b0e2a11\n"},
		"cryptsetup status data":       {exit: 4, out: "/dev/mapper/data is inactive.\n"},
	}
}

// runLuks runs createLuks for one volume "data" on /dev/vdb and returns
// the commands it ran, with the key path written as KEY.
func runLuks(t *testing.T, l types.Luks, resp map[string]reply, e Env) ([]string, *stage, error) {
	t.Helper()
	l.Name = "data"
	l.Device = refOf("/dev/vdb")
	cmd := newScripted(resp)
	s := testStage(t, cmd, e, map[string]string{"/dev/mapper/data": "/dev/dm-0"})
	err := s.createLuks(context.Background(), []luksJob{{entry: "storage.luks.0", luks: l, device: "/dev/vdb"}})
	key := filepath.Join(s.keyDir(), "data")
	var calls []string
	for _, c := range cmd.calls {
		calls = append(calls, strings.ReplaceAll(c, key, "KEY"))
	}
	return calls, s, err
}

func TestLuksCommands(t *testing.T) {
	const (
		probe  = "blkid -p -o export /dev/vdb"
		format = "cryptsetup luksFormat --type luks2 --batch-mode"
		// A generated key's slot needs no slow key derivation.
		generated = format + " --pbkdf pbkdf2 --pbkdf-force-iterations 1000"
		uuid      = "cryptsetup luksUUID /dev/vdb"
		status    = "cryptsetup status data"
		open      = "cryptsetup luksOpen /dev/vdb data --key-file KEY"
	)
	adv := `{"payload":"eyJrZXlzIjpbXX0","protected":"eyJhbGciOiJFUzUxMiJ9","signature":"c2ln"}`
	tests := []struct {
		name string
		luks types.Luks
		want []string
	}{
		{
			name: "generated key",
			want: []string{probe, generated + " /dev/vdb KEY", uuid, status, open},
		},
		{
			name: "label, uuid and options",
			luks: types.Luks{
				Label:   refOf("secret"),
				UUID:    refOf("11111111-2222-3333-4444-555555555555"),
				Options: []string{"--cipher", "aes-xts-plain64", "--pbkdf", "pbkdf2"},
			},
			want: []string{probe,
				format + " --label secret --uuid 11111111-2222-3333-4444-555555555555 --cipher aes-xts-plain64 --pbkdf pbkdf2 /dev/vdb KEY",
				uuid, status, open},
		},
		{
			name: "discard",
			luks: types.Luks{Discard: refOf(true)},
			want: []string{probe, generated + " /dev/vdb KEY", uuid, status, open + " --allow-discards --persistent"},
		},
		{
			name: "discard false",
			luks: types.Luks{Discard: refOf(false)},
			want: []string{probe, generated + " /dev/vdb KEY", uuid, status, open},
		},
		{
			name: "open options",
			luks: types.Luks{OpenOptions: []string{"--perf-no_read_workqueue", "--perf-no_write_workqueue"}},
			want: []string{probe, generated + " /dev/vdb KEY", uuid, status,
				open + " --persistent --perf-no_read_workqueue --perf-no_write_workqueue"},
		},
		{
			name: "key file",
			luks: types.Luks{KeyFile: types.Resource{Source: refOf("data:,hunter2")}},
			want: []string{probe, format + " /dev/vdb KEY", uuid, status, open},
		},
		{
			name: "tpm2",
			luks: types.Luks{Clevis: types.Clevis{Tpm2: refOf(true)}},
			want: []string{probe, generated + " /dev/vdb KEY", uuid,
				`clevis luks bind -d /dev/vdb -k KEY sss {"t":1,"pins":{"tpm2":{}}}`,
				status, open},
		},
		{
			name: "tang",
			luks: types.Luks{Clevis: types.Clevis{Tang: []types.Tang{
				{URL: "http://tang.example:7500", Thumbprint: refOf("Hbll-7Vhthk")},
			}}},
			want: []string{probe, generated + " /dev/vdb KEY", uuid,
				`clevis luks bind -d /dev/vdb -k KEY sss {"t":1,"pins":{"tang":[{"url":"http://tang.example:7500","thp":"Hbll-7Vhthk"}]}}`,
				status, open},
		},
		{
			name: "tang with advertisement, tang, tpm2, threshold 2",
			luks: types.Luks{Clevis: types.Clevis{
				Tang: []types.Tang{
					{URL: "http://a", Thumbprint: refOf("thpA"), Advertisement: refOf(adv)},
					{URL: "https://b:8443/tang", Thumbprint: refOf("thpB")},
				},
				Tpm2:      refOf(true),
				Threshold: refOf(2),
			}},
			want: []string{probe, generated + " /dev/vdb KEY", uuid,
				`clevis luks bind -d /dev/vdb -k KEY sss {"t":2,"pins":{"tang":[{"url":"http://a","thp":"thpA","adv":` + adv + `},{"url":"https://b:8443/tang","thp":"thpB"}],"tpm2":{}}}`,
				status, open},
		},
		{
			name: "tpm2 false, threshold 0: no clevis",
			luks: types.Luks{Clevis: types.Clevis{Tpm2: refOf(false), Threshold: refOf(0)}},
			want: []string{probe, generated + " /dev/vdb KEY", uuid, status, open},
		},
		{
			name: "custom",
			luks: types.Luks{Clevis: types.Clevis{Custom: types.ClevisCustom{
				Pin: refOf("tpm2"), Config: refOf(`{"pcr_bank":"sha256","pcr_ids":"7"}`),
			}}},
			want: []string{probe, generated + " /dev/vdb KEY", uuid,
				`clevis luks bind -d /dev/vdb -k KEY tpm2 {"pcr_bank":"sha256","pcr_ids":"7"}`,
				status, open},
		},
		{
			name: "custom with key file and discard",
			luks: types.Luks{
				KeyFile: types.Resource{Source: refOf("data:;base64,c2VjcmV0")},
				Discard: refOf(true),
				Clevis: types.Clevis{Custom: types.ClevisCustom{
					Pin: refOf("tang"), Config: refOf(`{"url":"http://t","thp":"x"}`), NeedsNetwork: refOf(true),
				}},
			},
			want: []string{probe, format + " /dev/vdb KEY", uuid,
				`clevis luks bind -d /dev/vdb -k KEY tang {"url":"http://t","thp":"x"}`,
				status, open + " --allow-discards --persistent"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, s, err := runLuks(t, tt.luks, freshDisk(), Env{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(calls, tt.want) {
				t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(tt.want, "\n"))
			}

			// The key is kept for the files stage: the key file's bytes,
			// or 32 random bytes, hex-encoded.
			dir := s.keyDir()
			fi, err := os.Stat(dir)
			if err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("key dir: %v, %v; want mode 0700", fi, err)
			}
			key := filepath.Join(dir, "data")
			fi, err = os.Stat(key)
			if err != nil || fi.Mode().Perm() != 0o400 {
				t.Fatalf("key file: %v, %v; want mode 0400", fi, err)
			}
			got, _ := os.ReadFile(key)
			switch src := deref(tt.luks.KeyFile.Source); src {
			case "data:,hunter2":
				if string(got) != "hunter2" {
					t.Errorf("key = %q, want the key file's", got)
				}
			case "data:;base64,c2VjcmV0":
				if string(got) != "secret" {
					t.Errorf("key = %q, want the key file's", got)
				}
			default:
				if b, err := hex.DecodeString(string(got)); err != nil || len(b) != 32 {
					t.Errorf("generated key %d bytes, hex: %v; want 32 bytes hex-encoded", len(got), err)
				}
			}

			vols, err := ReadLuksVolumes(dir)
			if err != nil {
				t.Fatal(err)
			}
			want := LuksVolume{Device: "/dev/vdb", UUID: "0b5cbd1e-5a4b-4e8c-9d43-6c4c5b0e2a11"}
			if vols["data"] != want {
				t.Errorf("record = %+v, want %+v", vols, want)
			}
			if fi, err := os.Stat(LuksRecordPath(dir)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("record file: %v, %v; want mode 0600", fi, err)
			}
		})
	}
}

// TestLuksExisting covers what is done with a device that already holds
// something: keep it, wipe it, or fail.
func TestLuksExisting(t *testing.T) {
	const luks2 = "DEVNAME=/dev/vdb\nVERSION=2\nUUID=11111111-2222-3333-4444-555555555555\nLABEL=secret\nTYPE=crypto_LUKS\nUSAGE=crypto\n"
	keyFile := types.Resource{Source: refOf("data:,hunter2")}
	tests := []struct {
		name    string
		luks    types.Luks
		probe   reply
		keyOK   int    // exit status of luksOpen --test-passphrase
		bound   string // clevis luks list output
		wantErr string // "" for success
		format  bool   // luksFormat ran
		wipe    bool   // wipefs ran
		bind    bool   // clevis luks bind ran
	}{
		{name: "empty device", probe: reply{exit: 2}, format: true},
		{
			// blkid -p on a new partition: its table entry, no content.
			name:   "empty partition",
			probe:  reply{out: "DEVNAME=/dev/vdb1\nPART_ENTRY_SCHEME=gpt\nPART_ENTRY_NAME=cryptpart\nPART_ENTRY_UUID=5e3c5f4a-7d2b-4c1e-9a8f-0b1c2d3e4f50\nPART_ENTRY_TYPE=0fc63daf-8483-4772-8e79-3d69d8477de4\nPART_ENTRY_NUMBER=1\nPART_ENTRY_OFFSET=2048\nPART_ENTRY_SIZE=63455\nPART_ENTRY_DISK=253:16\n"},
			format: true,
		},
		{
			name: "filesystem on a partition", probe: reply{out: "DEVNAME=/dev/vdb1\nUUID=abc\nTYPE=ext4\nUSAGE=filesystem\nPART_ENTRY_SCHEME=gpt\nPART_ENTRY_NUMBER=1\n"},
			wantErr: "storage.luks.0 (data): /dev/vdb holds a filesystem of type ext4, not a LUKS volume; set wipeVolume to replace it",
		},
		{
			name: "matching volume is kept", probe: reply{out: luks2},
			luks: types.Luks{KeyFile: keyFile, Label: refOf("secret"), UUID: refOf("11111111-2222-3333-4444-555555555555")},
		},
		{
			name: "uuid compares without case", probe: reply{out: luks2},
			luks: types.Luks{KeyFile: keyFile, UUID: refOf("11111111-2222-3333-4444-555555555555")},
		},
		{
			name: "label and uuid not given", probe: reply{out: luks2},
			luks: types.Luks{KeyFile: keyFile},
		},
		{
			name: "other label", probe: reply{out: luks2},
			luks:    types.Luks{KeyFile: keyFile, Label: refOf("other")},
			wantErr: `storage.luks.0 (data): /dev/vdb holds a LUKS2 volume labeled "secret", not "other"; set wipeVolume to replace it`,
		},
		{
			name: "other label, wipeVolume", probe: reply{out: luks2},
			luks:   types.Luks{KeyFile: keyFile, Label: refOf("other"), WipeVolume: refOf(true)},
			format: true, wipe: true,
		},
		{
			name: "other uuid", probe: reply{out: luks2},
			luks:    types.Luks{KeyFile: keyFile, UUID: refOf("99999999-2222-3333-4444-555555555555")},
			wantErr: "storage.luks.0 (data): /dev/vdb holds a LUKS2 volume with UUID 11111111-2222-3333-4444-555555555555, not 99999999-2222-3333-4444-555555555555; set wipeVolume to replace it",
		},
		{
			name: "key does not open it", probe: reply{out: luks2}, keyOK: 2,
			luks:    types.Luks{KeyFile: keyFile},
			wantErr: "storage.luks.0 (data): /dev/vdb holds a LUKS2 volume that the key file does not open; set wipeVolume to replace it",
		},
		{
			name: "key does not open it, wipeVolume", probe: reply{out: luks2}, keyOK: 2,
			luks:   types.Luks{KeyFile: keyFile, WipeVolume: refOf(true)},
			format: true, wipe: true,
		},
		{
			name: "no key to check with", probe: reply{out: luks2},
			wantErr: "storage.luks.0 (data): /dev/vdb holds a LUKS2 volume and no keyFile is given to check that it is this one; set wipeVolume to replace it",
		},
		{
			name: "LUKS1", probe: reply{out: "VERSION=1\nUUID=1\nTYPE=crypto_LUKS\nUSAGE=crypto\n"},
			luks:    types.Luks{KeyFile: keyFile},
			wantErr: "storage.luks.0 (data): /dev/vdb holds a LUKS1 volume, not LUKS2; set wipeVolume to replace it",
		},
		{
			name: "filesystem", probe: reply{out: "UUID=abc\nVERSION=1.0\nTYPE=ext4\nUSAGE=filesystem\n"},
			wantErr: "storage.luks.0 (data): /dev/vdb holds a filesystem of type ext4, not a LUKS volume; set wipeVolume to replace it",
		},
		{
			name: "filesystem, wipeVolume", probe: reply{out: "TYPE=ext4\nUSAGE=filesystem\n"},
			luks:   types.Luks{WipeVolume: refOf(true)},
			format: true, wipe: true,
		},
		{
			name: "partition table", probe: reply{out: "PTUUID=abc\nPTTYPE=gpt\n"},
			wantErr: "storage.luks.0 (data): /dev/vdb holds a gpt partition table, not a LUKS volume; set wipeVolume to replace it",
		},
		{
			name: "raid member", probe: reply{out: "TYPE=linux_raid_member\nUSAGE=raid\n"},
			wantErr: "storage.luks.0 (data): /dev/vdb holds a signature of type linux_raid_member, not a LUKS volume; set wipeVolume to replace it",
		},
		{
			name: "several signatures", probe: reply{exit: 8},
			wantErr: "storage.luks.0 (data): /dev/vdb holds more than one signature, not a LUKS volume; set wipeVolume to replace it",
		},
		{
			name: "blkid fails", probe: reply{exit: 4},
			wantErr: "storage.luks.0 (data): probing /dev/vdb: blkid: exit status 4",
		},
		{
			name: "kept volume already bound keeps its binding", probe: reply{out: luks2}, bound: "1: tpm2 '{}'\n",
			luks: types.Luks{KeyFile: keyFile, Clevis: types.Clevis{Tpm2: refOf(true)}},
		},
		{
			name: "kept volume not bound yet is bound", probe: reply{out: luks2},
			luks: types.Luks{KeyFile: keyFile, Clevis: types.Clevis{Tpm2: refOf(true)}},
			bind: true,
		},
		{
			name: "new volume is bound", probe: reply{exit: 2},
			luks:   types.Luks{Clevis: types.Clevis{Tpm2: refOf(true)}},
			format: true, bind: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := freshDisk()
			resp["blkid -p -o export /dev/vdb"] = tt.probe
			resp["cryptsetup luksOpen --test-passphrase"] = reply{exit: tt.keyOK}
			resp["clevis luks list -d /dev/vdb"] = reply{out: tt.bound}
			calls, _, err := runLuks(t, tt.luks, resp, Env{})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v\nwant %s", err, tt.wantErr)
				}
				for _, c := range calls {
					if !strings.HasPrefix(c, "blkid") && !strings.Contains(c, "--test-passphrase") {
						t.Errorf("ran %q after deciding to fail", c)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ran := func(prefix string) bool {
				return slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
			}
			if got := ran("cryptsetup luksFormat"); got != tt.format {
				t.Errorf("luksFormat ran: %v, want %v\n%s", got, tt.format, strings.Join(calls, "\n"))
			}
			if got := ran("wipefs -a /dev/vdb"); got != tt.wipe {
				t.Errorf("wipefs ran: %v, want %v", got, tt.wipe)
			}
			if got := ran("clevis luks bind"); got != tt.bind {
				t.Errorf("clevis bind ran: %v, want %v", got, tt.bind)
			}
			if !ran("cryptsetup luksOpen /dev/vdb data") {
				t.Errorf("not opened:\n%s", strings.Join(calls, "\n"))
			}
			if tt.wipe && !slices.IsSorted([]int{slices.Index(calls, "wipefs -a /dev/vdb"), slices.IndexFunc(calls, func(c string) bool {
				return strings.HasPrefix(c, "cryptsetup luksFormat")
			})}) {
				t.Errorf("wiped after formatting:\n%s", strings.Join(calls, "\n"))
			}
		})
	}
}

// TestLuksKeyKept: a key generated by an earlier run in this boot is
// used again, so that a second run keeps the volume the first made.
func TestLuksKeyKept(t *testing.T) {
	dir := t.TempDir() + "/keys"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), []byte("earlier"), 0o400); err != nil {
		t.Fatal(err)
	}
	resp := freshDisk()
	resp["blkid -p -o export /dev/vdb"] = reply{out: "VERSION=2\nUUID=u\nTYPE=crypto_LUKS\n"}
	calls, _, err := runLuks(t, types.Luks{}, resp, Env{KeyDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(calls, "cryptsetup luksOpen --test-passphrase --key-file KEY /dev/vdb") {
		t.Errorf("key not checked:\n%s", strings.Join(calls, "\n"))
	}
	if slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "cryptsetup luksFormat") }) {
		t.Errorf("formatted over the kept volume")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "data")); string(got) != "earlier" {
		t.Errorf("key = %q, want the earlier one", got)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode %v, want 0700", fi.Mode().Perm())
	}
}

func TestLuksAlreadyOpen(t *testing.T) {
	resp := freshDisk()
	resp["cryptsetup status data"] = reply{out: "/dev/mapper/data is active.\n  type:    LUKS2\n  device:  /dev/vdb\n  sector size:  512\n"}
	calls, _, err := runLuks(t, types.Luks{}, resp, Env{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "cryptsetup luksOpen") }) {
		t.Errorf("opened again:\n%s", strings.Join(calls, "\n"))
	}

	resp["cryptsetup status data"] = reply{out: "/dev/mapper/data is active.\n  device:  /dev/vdc\n"}
	_, _, err = runLuks(t, types.Luks{}, resp, Env{})
	if want := "storage.luks.0 (data): /dev/mapper/data is already open, on /dev/vdc"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestLuksCex(t *testing.T) {
	cex := types.Luks{Cex: types.Cex{Enabled: refOf(true)}}
	calls, _, err := runLuks(t, cex, freshDisk(), Env{Arch: "amd64"})
	if want := "storage.luks.0 (data): cex needs IBM Crypto Express, which only s390x has"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if len(calls) != 0 {
		t.Errorf("ran %q", calls)
	}

	// On s390x the secure key zkey generates becomes the volume key.
	var secure string
	resp := freshDisk()
	resp["zkey generate"] = reply{do: func(argv []string) error {
		secure = argv[2]
		return os.WriteFile(secure, make([]byte, 128), 0o600)
	}}
	calls, _, err = runLuks(t, cex, resp, Env{Arch: "s390x"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"blkid -p -o export /dev/vdb",
		"zkey generate " + secure + " --xts --keybits 256",
		"cryptsetup luksFormat --type luks2 --batch-mode --cipher paes-xts-plain64 --master-key-file " + secure + " --key-size 1024 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 /dev/vdb KEY",
		"cryptsetup luksUUID /dev/vdb",
		"cryptsetup status data",
		"cryptsetup luksOpen /dev/vdb data --key-file KEY",
	}
	if !slices.Equal(calls, want) {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	if _, err := os.Stat(secure); !os.IsNotExist(err) {
		t.Errorf("secure key left behind: %v", err)
	}
}

// TestLuksClevisThreshold: a threshold no set of pins can meet fails
// before the device is touched.
func TestLuksClevisThreshold(t *testing.T) {
	tests := []struct {
		clevis types.Clevis
		want   string
	}{
		{types.Clevis{Threshold: refOf(2), Tpm2: refOf(true)},
			"storage.luks.0 (data): clevis.threshold is 2, but there are 1 pins (tang servers and tpm2)"},
		{types.Clevis{Threshold: refOf(1)},
			"storage.luks.0 (data): clevis.threshold is set, but there is no tang server or tpm2 to bind to"},
		{types.Clevis{Threshold: refOf(-1), Tpm2: refOf(true)},
			"storage.luks.0 (data): clevis.threshold is -1, but there are 1 pins (tang servers and tpm2)"},
	}
	for _, tt := range tests {
		calls, _, err := runLuks(t, types.Luks{Clevis: tt.clevis}, freshDisk(), Env{})
		if err == nil || err.Error() != tt.want {
			t.Errorf("err = %v, want %s", err, tt.want)
		}
		if len(calls) != 0 {
			t.Errorf("ran %q", calls)
		}
	}
}

// TestLuksFailures: a failing command stops the volume, and the error
// names the entry and the step.
func TestLuksFailures(t *testing.T) {
	tests := []struct {
		fail string
		want string
	}{
		{"cryptsetup luksFormat", "storage.luks.0 (data): cryptsetup: exit status 1"},
		{"cryptsetup luksUUID /dev/vdb", "storage.luks.0 (data): reading the LUKS UUID of /dev/vdb: cryptsetup: exit status 1"},
		{"clevis luks bind", "storage.luks.0 (data): clevis: exit status 1"},
		{"cryptsetup luksOpen /dev/vdb", "storage.luks.0 (data): cryptsetup: exit status 1"},
	}
	for _, tt := range tests {
		t.Run(tt.fail, func(t *testing.T) {
			resp := freshDisk()
			resp[tt.fail] = reply{exit: 1}
			_, s, err := runLuks(t, types.Luks{Clevis: types.Clevis{Tpm2: refOf(true)}}, resp, Env{})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
			if vols, _ := ReadLuksVolumes(s.keyDir()); len(vols) != 0 {
				t.Errorf("recorded a volume that failed: %v", vols)
			}
		})
	}
}

func TestLuksKeyFileFetch(t *testing.T) {
	tests := []struct {
		name, source, want string
	}{
		{"empty", "data:,", "storage.luks.0 (data): the key file is empty"},
		{"needs the network", "http://keys.example/data", "storage.luks.0.keyFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, _, err := runLuks(t, types.Luks{KeyFile: types.Resource{Source: refOf(tt.source)}}, freshDisk(), Env{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
			if len(calls) != 0 {
				t.Errorf("ran %q", calls)
			}
		})
	}
}

// TestLuksRecordKeepsOthers: the record gains a volume without losing
// those an earlier run recorded.
func TestLuksRecordKeepsOthers(t *testing.T) {
	dir := t.TempDir() + "/keys"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := recordLuksVolume(dir, "old", LuksVolume{Device: "/dev/vdc", UUID: "u1"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runLuks(t, types.Luks{}, freshDisk(), Env{KeyDir: dir}); err != nil {
		t.Fatal(err)
	}
	vols, err := ReadLuksVolumes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) != 2 || vols["old"].UUID != "u1" || vols["data"].UUID == "" {
		t.Errorf("record = %+v", vols)
	}
	if vols, err := ReadLuksVolumes(t.TempDir() + "/none"); err != nil || len(vols) != 0 {
		t.Errorf("no record: %v, %v", vols, err)
	}
}
