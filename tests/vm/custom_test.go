package vm

import (
	"slices"
	"strings"
	"testing"
)

func TestCustomQemuArgs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		c       Custom
		want    [][]string // consecutive argument pairs that must appear
		notWant []string
	}{
		{
			name: "disks, network and fw_cfg",
			c: Custom{
				Initrd: "/tmp/i.img", Append: "root=LABEL=root", Net: true,
				Disks: []string{"/tmp/a.img", "/tmp/odd,name.img"},
				FwCfg: map[string]string{"opt/com.coreos/config": "/tmp/c,1.ign", "opt/other": "/tmp/o"},
			},
			want: [][]string{
				{"-append", "console=ttyS0 root=LABEL=root"},
				{"-initrd", "/tmp/i.img"},
				{"-drive", "if=none,id=d0,format=raw,cache=unsafe,file=/tmp/a.img"},
				{"-device", "virtio-blk-pci,drive=d0,serial=disk0"},
				{"-drive", "if=none,id=d1,format=raw,cache=unsafe,file=/tmp/odd,,name.img"},
				{"-device", "virtio-blk-pci,drive=d1,serial=disk1"},
				{"-device", "virtio-net-pci,netdev=n0,romfile="},
				{"-fw_cfg", "name=opt/com.coreos/config,file=/tmp/c,,1.ign"},
				{"-fw_cfg", "name=opt/other,file=/tmp/o"},
				{"-m", "1536"},
			},
			notWant: []string{"-net"},
		},
		{
			name:    "no network",
			c:       Custom{Initrd: "/i", Memory: 512, CPUs: 2},
			want:    [][]string{{"-net", "none"}, {"-m", "512"}, {"-smp", "2"}, {"-append", "console=ttyS0"}},
			notWant: []string{"-fw_cfg", "-drive", "-netdev"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.c.qemuArgs("/k")
			for _, w := range tc.want {
				found := false
				for i := 1; i < len(args); i++ {
					found = found || (args[i-1] == w[0] && args[i] == w[1])
				}
				if !found {
					t.Errorf("no %s %q in %s", w[0], w[1], strings.Join(args, " "))
				}
			}
			for _, nw := range tc.notWant {
				if slices.Contains(args, nw) {
					t.Errorf("%q in %s", nw, strings.Join(args, " "))
				}
			}
		})
	}
}
