package disks

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/log"
)

// BenchmarkDisksStage is the whole stage on 4 loop devices, each given 4
// partitions holding ext4, xfs, btrfs and vfat: partitioning, telling the
// kernel, probing and mkfs, with filesystems created one after another
// (Parallel=1) versus in parallel (Parallel=0: one per CPU). Every round
// wipes the tables and filesystems the round before made. Needs root.
func BenchmarkDisksStage(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root for loop devices")
	}
	for _, tool := range []string{"losetup", "sgdisk", "partx", "blkid", "wipefs", "mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "mkfs.vfat"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("needs %s", tool)
		}
	}
	// xfs needs 300 MiB, btrfs about 114 MiB.
	parts := []struct {
		format string
		mib    int
	}{{"ext4", 64}, {"xfs", 300}, {"btrfs", 128}, {"vfat", 64}}
	var disks []string
	for i := range 4 {
		img := filepath.Join(b.TempDir(), fmt.Sprintf("disk%d.img", i))
		if err := os.WriteFile(img, nil, 0o600); err != nil {
			b.Fatal(err)
		}
		if err := os.Truncate(img, 600<<20); err != nil {
			b.Fatal(err)
		}
		out, err := exec.Command("losetup", "-f", "--show", img).Output()
		if err != nil {
			b.Fatalf("losetup: %v", err)
		}
		dev := strings.TrimSpace(string(out))
		b.Cleanup(func() {
			exec.Command("partx", "-d", dev).Run()
			exec.Command("losetup", "-d", dev).Run()
		})
		disks = append(disks, dev)
	}
	yes := true
	var cfg types.Config
	for _, dev := range disks {
		d := types.Disk{Device: dev, WipeTable: &yes}
		for n, p := range parts {
			label, size := fmt.Sprintf("bench-%s", p.format), p.mib
			d.Partitions = append(d.Partitions, types.Partition{Number: n + 1, Label: &label, SizeMiB: &size})
			format := p.format
			cfg.Storage.Filesystems = append(cfg.Storage.Filesystems, types.Filesystem{
				Device: fmt.Sprintf("%sp%d", dev, n+1), Format: &format, WipeFilesystem: &yes,
			})
		}
		cfg.Storage.Disks = append(cfg.Storage.Disks, d)
	}
	for _, bench := range []struct {
		name     string
		parallel int
	}{{"serial", 1}, {"parallel", 0}} {
		b.Run(bench.name, func(b *testing.B) {
			for range b.N {
				if _, err := Run(context.Background(), cfg, Env{Parallel: bench.parallel, Log: log.Discard()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
