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

// lintPartitions warns when a partition of the image is named by its label
// but with no number, or with another number than the image gives it (the
// label alone would make Ignition create a new partition instead of
// reusing or resizing the existing one), and when root is made too small.
func (w *walker) lintPartitions(disks []types.Disk) {
	if w.v.Variant != "fcos" {
		return
	}
	for i, d := range disks {
		for j, p := range d.Partitions {
			if p.Label == nil {
				continue
			}
			want, ok := fcosReserved[*p.Label]
			if !ok {
				continue
			}
			at := fmt.Sprintf("storage.disks.%d.partitions.%d", i, j)
			if *p.Label == "root" && p.SizeMiB != nil && *p.SizeMiB > 0 && *p.SizeMiB < minRootMiB {
				l := w.tr[at+".sizeMiB"]
				w.r.Entries = append(w.r.Entries, Entry{Kind: Warning, Path: "$." + l.path, Line: l.line, Column: l.col,
					Message: fmt.Sprintf("root partition of %d MiB is too small; Fedora CoreOS needs at least %d MiB", *p.SizeMiB, minRootMiB)})
			}
			switch {
			case p.Number == 0:
				l := w.tr[at+".label"]
				w.r.Entries = append(w.r.Entries, Entry{Kind: Warning, Path: "$." + l.path, Line: l.line, Column: l.col,
					Message: fmt.Sprintf("partition %q is reused by label without a number; the image gives it number %d", *p.Label, want)})
			case p.Number != want:
				l := w.tr[at+".number"]
				w.r.Entries = append(w.r.Entries, Entry{Kind: Warning, Path: "$." + l.path, Line: l.line, Column: l.col,
					Message: fmt.Sprintf("partition %q has number %d but the image gives it number %d", *p.Label, p.Number, want)})
			}
		}
	}
}

// checkModes refuses setuid, setgid and sticky bits where the variant's
// stable versions cannot set them (openshift, r4e, fiot).
func (w *walker) checkModes(cfg *types.Config) {
	if w.v.Version.PreRelease != "" {
		return
	}
	for _, list := range w.v.plainModes {
		var modes []*int
		switch list {
		case "files":
			for _, f := range cfg.Storage.Files {
				modes = append(modes, f.Mode)
			}
		case "directories":
			for _, d := range cfg.Storage.Directories {
				modes = append(modes, d.Mode)
			}
		}
		for i, m := range modes {
			if m == nil || *m&0o7000 == 0 {
				continue
			}
			l := w.locate([]string{"storage", list, strconv.Itoa(i), "mode"})
			e := Entry{Kind: Error, Line: l.line, Column: l.col,
				Message: fmt.Sprintf("%s does not support setuid, setgid or sticky bits (mode 0%o)", w.v, *m)}
			if l.path != "" {
				e.Path = "$." + l.path
			}
			w.r.Entries = append(w.r.Entries, e)
		}
	}
}
