package disks

// mdadm cannot create arrays here (the kernel has no md), so these tests
// write md v1.2 superblocks into image files themselves and let the real
// mdadm --examine read them: that is what the reuse decision rests on.

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/exec/command"
	"github.com/ignition-go/ignition/internal/log"
)

// mdSuper describes the superblock writeMDSuper writes.
type mdSuper struct {
	uuid      [16]byte
	name      string // as stored, e.g. "any:data"
	level     uint32 // 0, 1, 4, 5, 6, 10; 0xffffffff is linear
	raidDisks uint32
	devNumber uint32
}

// writeMDSuper writes an md version-1.2 superblock (4 KiB into the
// device) for one member of a clean array, with the checksum mdadm
// checks.
func writeMDSuper(t *testing.T, img string, sb mdSuper) {
	t.Helper()
	const maxDev = 4
	b := make([]byte, 256+maxDev*2)
	le := binary.LittleEndian
	le.PutUint32(b[0:], 0xa92b4efc) // magic
	le.PutUint32(b[4:], 1)          // major version
	copy(b[16:32], sb.uuid[:])
	copy(b[32:64], sb.name)
	le.PutUint64(b[64:], uint64(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Unix())) // ctime
	le.PutUint32(b[72:], sb.level)
	if sb.level == 0 || sb.level >= 4 {
		le.PutUint32(b[88:], 128) // chunk size, sectors
	}
	le.PutUint32(b[92:], sb.raidDisks)
	le.PutUint64(b[128:], 2048)               // data offset, sectors
	le.PutUint64(b[136:], 14336)              // data size, sectors
	le.PutUint64(b[80:], 14336)               // used size, sectors
	le.PutUint64(b[144:], 8)                  // superblock offset, sectors (1.2: 4 KiB)
	le.PutUint32(b[160:], sb.devNumber)       // this member's slot
	b[168] = byte(sb.devNumber + 1)           // device UUID
	le.PutUint64(b[192:], le.Uint64(b[64:]))  // update time
	le.PutUint64(b[200:], 20)                 // events
	le.PutUint64(b[208:], 0xffffffffffffffff) // resync offset: clean
	le.PutUint32(b[220:], maxDev)
	for i := range maxDev {
		role := uint16(0xffff) // unused slot
		if uint32(i) < sb.raidDisks {
			role = uint16(i)
		}
		le.PutUint16(b[256+2*i:], role)
	}
	var sum uint64
	for i := 0; i+4 <= len(b); i += 4 {
		sum += uint64(le.Uint32(b[i:]))
	}
	le.PutUint32(b[216:], uint32(sum&0xffffffff)+uint32(sum>>32))

	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, 4096); err != nil {
		t.Fatal(err)
	}
}

// mdTools runs the real mdadm --examine; what needs md in the kernel
// (--detail: nothing running; --assemble, --create) is only recorded.
type mdTools struct{ calls []string }

func (m *mdTools) Run(ctx context.Context, argv []string) error {
	_, err := m.Output(ctx, argv)
	return err
}

func (m *mdTools) Output(ctx context.Context, argv []string) ([]byte, error) {
	m.calls = append(m.calls, strings.Join(argv, " "))
	if argv[0] == "mdadm" && argv[1] != "--examine" {
		if argv[1] == "--detail" {
			return nil, exitErr(1)
		}
		return nil, nil
	}
	return command.Exec{}.Output(ctx, argv)
}

func TestRaidRealExamine(t *testing.T) {
	needTools(t, "mdadm")
	uuid := [16]byte{0x3f, 0x6a, 0x1c, 0x2e, 0x9b, 0x4d, 0x5e, 0x6f, 0x7a, 0x8b, 0x9c, 0x0d, 0x1e, 0x2f, 0x3a, 0x4b}
	other := uuid
	other[15] ^= 0xff
	const member = 8 << 20

	tests := []struct {
		name  string
		raid  types.Raid
		sbs   []mdSuper // one per member; zero name: left blank
		reuse bool
	}{
		{
			name:  "raid1 of this name: assembled",
			raid:  types.Raid{Level: refOf("raid1")},
			sbs:   []mdSuper{{uuid: uuid, name: "any:data", level: 1, raidDisks: 2}, {uuid: uuid, name: "any:data", level: 1, raidDisks: 2, devNumber: 1}},
			reuse: true,
		},
		{
			name:  "raid5 made on another host: assembled",
			raid:  types.Raid{Level: refOf("5")},
			sbs:   []mdSuper{{uuid: uuid, name: "buildhost:data", level: 5, raidDisks: 2}, {uuid: uuid, name: "buildhost:data", level: 5, raidDisks: 2, devNumber: 1}},
			reuse: true,
		},
		{
			name: "another level: created",
			raid: types.Raid{Level: refOf("raid0")},
			sbs:  []mdSuper{{uuid: uuid, name: "any:data", level: 1, raidDisks: 2}, {uuid: uuid, name: "any:data", level: 1, raidDisks: 2, devNumber: 1}},
		},
		{
			name: "another name: created",
			raid: types.Raid{Level: refOf("raid1")},
			sbs:  []mdSuper{{uuid: uuid, name: "any:root", level: 1, raidDisks: 2}, {uuid: uuid, name: "any:root", level: 1, raidDisks: 2, devNumber: 1}},
		},
		{
			name: "members of two arrays: created",
			raid: types.Raid{Level: refOf("raid1")},
			sbs:  []mdSuper{{uuid: uuid, name: "any:data", level: 1, raidDisks: 2}, {uuid: other, name: "any:data", level: 1, raidDisks: 2, devNumber: 1}},
		},
		{
			name: "a blank member: created",
			raid: types.Raid{Level: refOf("raid1")},
			sbs:  []mdSuper{{uuid: uuid, name: "any:data", level: 1, raidDisks: 2}, {}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var devs []string
			for _, sb := range tt.sbs {
				img := image(t, member)
				if sb.name != "" {
					writeMDSuper(t, img, sb)
				}
				devs = append(devs, img)
			}
			// The superblocks are real to mdadm.
			out, err := exec.Command("mdadm", "--examine", "--export", devs[0]).Output()
			if err != nil {
				t.Fatalf("mdadm --examine: %v", err)
			}
			if v := parseKeyValues(out); v["MD_UUID"] != "3f6a1c2e:9b4d5e6f:7a8b9c0d:1e2f3a4b" || v["MD_NAME"] != tt.sbs[0].name {
				t.Fatalf("mdadm --examine --export:\n%s", out)
			}

			tools := &mdTools{}
			s := &stage{cfg: &types.Config{}, e: Env{DeviceTimeout: time.Second}, cmd: tools, log: log.Discard(),
				devices: map[string]string{"/dev/md/data": "/dev/md127"}}
			r := tt.raid
			r.Name = "data"
			r.Devices = devs
			if err := s.createRaids(context.Background(), []raidJob{{entry: "storage.raid.0", raid: r, devices: devs}}); err != nil {
				t.Fatal(err)
			}
			want := "mdadm --create /dev/md/data"
			if tt.reuse {
				want = "mdadm --assemble /dev/md/data --run --homehost=any " + strings.Join(devs, " ")
			}
			if !slices.ContainsFunc(tools.calls, func(c string) bool { return strings.HasPrefix(c, want) }) {
				t.Errorf("commands:\n%s\nwant %s…", strings.Join(tools.calls, "\n"), want)
			}
		})
	}
}
