package transpile

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ignition-go/ignition/config/types"
)

// lintMode warns about a mode written in decimal that was meant as octal
// (mode: 644). YAML reads 644 as six hundred forty-four, which is 0o1204:
// sticky and odd permissions. A decimal literal made only of octal digits
// that is larger than 0o777 is almost surely that mistake; decimal modes
// written on purpose (420 for 0o644, 493 for 0o755) are not flagged.
func (w *walker) lintMode(n *yaml.Node, in string) {
	lit := n.Value
	if lit == "" || lit[0] == '0' || strings.Trim(lit, "01234567") != "" {
		return
	}
	v, err := strconv.Atoi(lit)
	if err != nil || v <= 0o777 {
		return
	}
	w.warnAt(n, in, "mode %s is decimal (0o%o); write 0%s for octal %s", lit, v, lit, lit)
}

// fcosReserved are the partition labels of the Fedora CoreOS image and the
// numbers they have on every architecture (PReP takes BIOS-BOOT's slot on
// ppc64le).
var fcosReserved = map[string]int{
	"BIOS-BOOT":         1,
	"PowerPC-PReP-boot": 1,
	"EFI-SYSTEM":        2,
	"boot":              3,
	"root":              4,
}

// minRootMiB is the smallest root partition Fedora CoreOS supports (8 GiB).
const minRootMiB = 8192

// bootDisk is the link to the disk the machine booted from, which the
// image's own partitions are on.
const bootDisk = "/dev/disk/by-id/coreos-boot-disk"

// lintPartitions warns, for the CoreOS variants (fcos and openshift), about
// partition entries that will not do what they look like they do:
//   - an image partition (BIOS-BOOT, EFI-SYSTEM, boot, root…) named by its
//     label with no number or another number than the image gives it, on a
//     disk whose table is kept: Ignition would create a second partition;
//   - a root partition smaller than 8 GiB, or one that is to fill the free
//     space but is followed by an automatically placed partition that takes
//     that space first;
//   - any partition without a number on a kept table of a disk other than
//     the boot disk: Ignition cannot reuse a partition by label there.
func (w *walker) lintPartitions(disks []types.Disk) {
	if w.v.Variant != "fcos" && w.v.Variant != "openshift" {
		return
	}
	warn := func(out, format string, args ...any) {
		l := w.locate(strings.Split(out, "."))
		e := Entry{Kind: Warning, Line: l.line, Column: l.col, Message: fmt.Sprintf(format, args...)}
		if l.path != "" {
			e.Path = "$." + l.path
		}
		w.r.Entries = append(w.r.Entries, e)
	}
	for i, d := range disks {
		kept := d.WipeTable == nil || !*d.WipeTable
		for j, p := range d.Partitions {
			at := fmt.Sprintf("storage.disks.%d.partitions.%d", i, j)
			label := ""
			if p.Label != nil {
				label = *p.Label
			}
			if want, ok := fcosReserved[label]; ok && kept && p.Number != want {
				if p.Number == 0 {
					warn(at+".label", "partition %q has no number; on a kept table the image gives it number %d, and without it a new partition is created", label, want)
				} else {
					warn(at+".number", "partition %q has number %d but the image gives it number %d; a new partition is created", label, p.Number, want)
				}
			}
			if label == "root" && w.v.has(featBootDevice) {
				size := 0
				if p.SizeMiB != nil {
					size = *p.SizeMiB
				}
				switch {
				case size > 0 && size < minRootMiB:
					warn(at+".sizeMiB", "root partition of %d MiB is too small; Fedora CoreOS needs at least %d MiB", size, minRootMiB)
				case size == 0:
					for k, later := range d.Partitions[j+1:] {
						if later.StartMiB == nil || *later.StartMiB == 0 {
							warn(at+".label", "root partition is to fill the free space, but partitions.%d after it has no start_mib and is placed first; give it a start_mib or give root a size_mib", j+1+k)
							break
						}
					}
				}
			}
			if w.v.has(featReuseByLabel) && kept && p.Number == 0 && label != "" && d.Device != bootDisk {
				warn(at+".number", "partition %q has no number: partitions cannot be reused by label except on %s or when wipe_table is true", label, bootDisk)
			}
		}
	}
}

// checkModes refuses setuid, setgid and sticky bits on files where the
// variant cannot set them (openshift 4.10.0 and later stable versions).
func (w *walker) checkModes(cfg *types.Config) {
	if w.v.Version.PreRelease != "" || !w.v.has(featNoSpecialModes) {
		return
	}
	for i, f := range cfg.Storage.Files {
		if f.Mode == nil || *f.Mode&0o7000 == 0 {
			continue
		}
		l := w.locate([]string{"storage", "files", strconv.Itoa(i), "mode"})
		e := Entry{Kind: Error, Line: l.line, Column: l.col,
			Message: fmt.Sprintf("%s does not support setuid, setgid or sticky bits (mode 0%o)", w.v, *f.Mode)}
		if l.path != "" {
			e.Path = "$." + l.path
		}
		w.r.Entries = append(w.r.Entries, e)
	}
}
