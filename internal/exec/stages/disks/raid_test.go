package disks

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config/types"
)

// examined is mdadm --examine --export's output for a member of the
// array "any:data" with the given level and active member count.
func examined(level, devices, uuid string) reply {
	return reply{out: "MD_LEVEL=" + level + "\nMD_DEVICES=" + devices + "\nMD_NAME=any:data\nMD_UUID=" + uuid +
		"\nMD_UPDATE_TIME=1700000000\nMD_DEV_UUID=0a1b2c3d:00000000:00000000:00000001\nMD_EVENTS=18\n"}
}

const mdUUID = "3f6a1c2e:9b4d5e6f:7a8b9c0d:1e2f3a4b"

func runRaid(t *testing.T, r types.Raid, resp map[string]reply) ([]string, *stage, error) {
	t.Helper()
	r.Name = "data"
	devs := slices.Clone(r.Devices)
	cmd := newScripted(resp)
	s := testStage(t, cmd, Env{}, map[string]string{"/dev/md/data": "/dev/md127"})
	err := s.createRaids(context.Background(), []raidJob{{entry: "storage.raid.0", raid: r, devices: devs}})
	return cmd.calls, s, err
}

func TestRaidCreate(t *testing.T) {
	tests := []struct {
		name string
		raid types.Raid
		want string
	}{
		{"linear", types.Raid{Level: refOf("linear"), Devices: []string{"/dev/vdb", "/dev/vdc"}},
			"mdadm --create /dev/md/data --run --force --homehost=any --level=linear --raid-devices=2 /dev/vdb /dev/vdc"},
		{"raid0", types.Raid{Level: refOf("raid0"), Devices: []string{"/dev/vdb", "/dev/vdc", "/dev/vdd"}},
			"mdadm --create /dev/md/data --run --force --homehost=any --level=raid0 --raid-devices=3 /dev/vdb /dev/vdc /dev/vdd"},
		{"raid1 single member", types.Raid{Level: refOf("raid1"), Devices: []string{"/dev/vdb"}},
			"mdadm --create /dev/md/data --run --force --homehost=any --level=raid1 --raid-devices=1 /dev/vdb"},
		{"raid1 with a spare", types.Raid{Level: refOf("raid1"), Devices: []string{"/dev/vdb", "/dev/vdc", "/dev/vdd"}, Spares: refOf(1)},
			"mdadm --create /dev/md/data --run --force --homehost=any --level=raid1 --raid-devices=2 --spare-devices=1 /dev/vdb /dev/vdc /dev/vdd"},
		{"raid4", types.Raid{Level: refOf("raid4"), Devices: []string{"/dev/vdb", "/dev/vdc", "/dev/vdd"}},
			"mdadm --create /dev/md/data --run --force --homehost=any --level=raid4 --raid-devices=3 /dev/vdb /dev/vdc /dev/vdd"},
		{"raid5 spares 0", types.Raid{Level: refOf("raid5"), Devices: []string{"/dev/vdb", "/dev/vdc", "/dev/vdd"}, Spares: refOf(0)},
			"mdadm --create /dev/md/data --run --force --homehost=any --level=raid5 --raid-devices=3 /dev/vdb /dev/vdc /dev/vdd"},
		{"raid6 with spares and options", types.Raid{
			Level: refOf("raid6"), Devices: []string{"/dev/vdb", "/dev/vdc", "/dev/vdd", "/dev/vde", "/dev/vdf", "/dev/vdg"},
			Spares: refOf(2), Options: []string{"--metadata=1.0", "--chunk=256"},
		}, "mdadm --create /dev/md/data --run --force --homehost=any --level=raid6 --raid-devices=4 --spare-devices=2 --metadata=1.0 --chunk=256 /dev/vdb /dev/vdc /dev/vdd /dev/vde /dev/vdf /dev/vdg"},
		{"raid10", types.Raid{Level: refOf("raid10"), Devices: []string{"/dev/vdb", "/dev/vdc", "/dev/vdd", "/dev/vde"}},
			"mdadm --create /dev/md/data --run --force --homehost=any --level=raid10 --raid-devices=4 /dev/vdb /dev/vdc /dev/vdd /dev/vde"},
		{"alias mirror", types.Raid{Level: refOf("mirror"), Devices: []string{"/dev/vdb", "/dev/vdc"}},
			"mdadm --create /dev/md/data --run --force --homehost=any --level=mirror --raid-devices=2 /dev/vdb /dev/vdc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := map[string]reply{
				"mdadm --examine --export": {exit: 1}, // no superblocks
				"mdadm --detail --export":  {exit: 1}, // nothing running
			}
			calls, _, err := runRaid(t, tt.raid, resp)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, d := range tt.raid.Devices {
				want = append(want, "mdadm --examine --export "+d)
			}
			want = append(want, "mdadm --detail --export /dev/md/data", tt.want)
			if !slices.Equal(calls, want) {
				t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestRaidExisting: members that already form the array are assembled
// (or the running array kept), anything else is created over.
func TestRaidExisting(t *testing.T) {
	raid1 := types.Raid{Level: refOf("raid1"), Devices: []string{"/dev/vdb", "/dev/vdc"}}
	other := "11111111:22222222:33333333:44444444"
	tests := []struct {
		name    string
		raid    types.Raid
		resp    map[string]reply
		want    string // the last command, "" for none beyond probing
		wantErr string
	}{
		{
			name: "same array: assembled",
			raid: raid1,
			resp: map[string]reply{"mdadm --examine --export": examined("raid1", "2", mdUUID)},
			want: "mdadm --assemble /dev/md/data --run --homehost=any /dev/vdb /dev/vdc",
		},
		{
			name: "same array under a level alias: assembled",
			raid: types.Raid{Level: refOf("1"), Devices: []string{"/dev/vdb", "/dev/vdc"}},
			resp: map[string]reply{"mdadm --examine --export": examined("raid1", "2", mdUUID)},
			want: "mdadm --assemble /dev/md/data --run --homehost=any /dev/vdb /dev/vdc",
		},
		{
			name: "same array with a spare: assembled",
			raid: types.Raid{Level: refOf("raid5"), Devices: []string{"/dev/vdb", "/dev/vdc", "/dev/vdd", "/dev/vde"}, Spares: refOf(1)},
			resp: map[string]reply{"mdadm --examine --export": examined("raid5", "3", mdUUID)},
			want: "mdadm --assemble /dev/md/data --run --homehost=any /dev/vdb /dev/vdc /dev/vdd /dev/vde",
		},
		{
			name: "same array already running: kept",
			raid: raid1,
			resp: map[string]reply{
				"mdadm --examine --export":             examined("raid1", "2", mdUUID),
				"mdadm --detail --export /dev/md/data": {out: "MD_LEVEL=raid1\nMD_DEVICES=2\nMD_UUID=" + mdUUID + "\n"},
			},
		},
		{
			name: "other array running under the name",
			raid: raid1,
			resp: map[string]reply{
				"mdadm --examine --export":             {exit: 1},
				"mdadm --detail --export /dev/md/data": {out: "MD_LEVEL=raid0\nMD_UUID=" + other + "\n"},
			},
			wantErr: "storage.raid.0 (data): /dev/md/data is already running as another array (UUID " + other + ")",
		},
		{
			name: "other level: created over",
			raid: raid1,
			resp: map[string]reply{"mdadm --examine --export": examined("raid0", "2", mdUUID)},
			want: "mdadm --create /dev/md/data --run --force --homehost=any --level=raid1 --raid-devices=2 /dev/vdb /dev/vdc",
		},
		{
			name: "other member count: created over",
			raid: raid1,
			resp: map[string]reply{"mdadm --examine --export": examined("raid1", "3", mdUUID)},
			want: "mdadm --create /dev/md/data --run --force --homehost=any --level=raid1 --raid-devices=2 /dev/vdb /dev/vdc",
		},
		{
			name: "members of two arrays: created over",
			raid: raid1,
			resp: map[string]reply{
				"mdadm --examine --export /dev/vdb": examined("raid1", "2", mdUUID),
				"mdadm --examine --export /dev/vdc": examined("raid1", "2", other),
			},
			want: "mdadm --create /dev/md/data --run --force --homehost=any --level=raid1 --raid-devices=2 /dev/vdb /dev/vdc",
		},
		{
			name: "one member blank: created over",
			raid: raid1,
			resp: map[string]reply{
				"mdadm --examine --export /dev/vdb": examined("raid1", "2", mdUUID),
				"mdadm --examine --export /dev/vdc": {exit: 1, out: ""},
			},
			want: "mdadm --create /dev/md/data --run --force --homehost=any --level=raid1 --raid-devices=2 /dev/vdb /dev/vdc",
		},
		{
			name: "other name: created over",
			raid: raid1,
			resp: map[string]reply{"mdadm --examine --export": {out: "MD_LEVEL=raid1\nMD_DEVICES=2\nMD_NAME=host:root\nMD_UUID=" + mdUUID + "\n"}},
			want: "mdadm --create /dev/md/data --run --force --homehost=any --level=raid1 --raid-devices=2 /dev/vdb /dev/vdc",
		},
		{
			name: "name with another host: assembled",
			raid: raid1,
			resp: map[string]reply{"mdadm --examine --export": {out: "MD_LEVEL=raid1\nMD_DEVICES=2\nMD_NAME=oldhost:data\nMD_UUID=" + mdUUID + "\n"}},
			want: "mdadm --assemble /dev/md/data --run --homehost=any /dev/vdb /dev/vdc",
		},
		{
			name:    "spares leave no active member",
			raid:    types.Raid{Level: refOf("raid1"), Devices: []string{"/dev/vdb", "/dev/vdc"}, Spares: refOf(2)},
			wantErr: "storage.raid.0 (data): 2 devices with 2 spares leave no active member",
		},
		{
			name:    "create fails",
			raid:    raid1,
			resp:    map[string]reply{"mdadm --examine --export": {exit: 1}, "mdadm --create": {exit: 1}},
			wantErr: "storage.raid.0 (data): mdadm: exit status 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.resp == nil {
				tt.resp = map[string]reply{}
			}
			if _, ok := tt.resp["mdadm --detail --export /dev/md/data"]; !ok {
				tt.resp["mdadm --detail --export /dev/md/data"] = reply{exit: 1}
			}
			calls, _, err := runRaid(t, tt.raid, tt.resp)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var acted []string
			for _, c := range calls {
				if !strings.HasPrefix(c, "mdadm --examine") && !strings.HasPrefix(c, "mdadm --detail") {
					acted = append(acted, c)
				}
			}
			var want []string
			if tt.want != "" {
				want = []string{tt.want}
			}
			if !slices.Equal(acted, want) {
				t.Errorf("commands:\n%s\nwant %q", strings.Join(calls, "\n"), want)
			}
		})
	}
}

// TestRaidWaitsForDevice: the array's /dev/md/<name> link is resolved
// (and so handed to the mount stage) after creating it.
func TestRaidWaitsForDevice(t *testing.T) {
	_, s, err := runRaid(t, types.Raid{Level: refOf("raid1"), Devices: []string{"/dev/vdb", "/dev/vdc"}},
		map[string]reply{"mdadm --examine --export": {exit: 1}, "mdadm --detail --export": {exit: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if s.devices["/dev/md/data"] != "/dev/md127" {
		t.Errorf("devices = %v", s.devices)
	}

	// Without the stand-in, the link never appears and the wait gives up.
	cmd := newScripted(map[string]reply{"mdadm --examine --export": {exit: 1}, "mdadm --detail --export": {exit: 1}})
	s = testStage(t, cmd, Env{DeviceTimeout: 100 * time.Millisecond}, nil)
	r := types.Raid{Name: "ignition-test-no-such-array", Level: refOf("raid1"), Devices: []string{"/dev/vdb"}}
	err = s.createRaids(context.Background(), []raidJob{{entry: "storage.raid.0", raid: r, devices: r.Devices}})
	if err == nil || !strings.Contains(err.Error(), "storage.raid.0 (ignition-test-no-such-array): device /dev/md/ignition-test-no-such-array did not appear within 100ms") {
		t.Errorf("err = %v", err)
	}
}
