package validation

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/coreos/vcontext/path"

	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/types"
)

var (
	// guidRE is the GUID form sgdisk accepts; "" means "let sgdisk pick".
	guidRE = regexp.MustCompile(`^(|[[:xdigit:]]{8}-[[:xdigit:]]{4}-[[:xdigit:]]{4}-[[:xdigit:]]{4}-[[:xdigit:]]{12})$`)

	// raidLevels are the levels mdadm accepts, each mapped to whether the
	// level can have spares (striped and linear arrays have no redundancy
	// to rebuild onto a spare).
	raidLevels = map[string]bool{
		"linear": false, "raid0": false, "0": false, "stripe": false,
		"raid1": true, "1": true, "mirror": true,
		"raid4": true, "4": true,
		"raid5": true, "5": true,
		"raid6": true, "6": true,
		"raid10": true, "10": true,
	}

	// labelMax is each block filesystem's label limit in bytes, from its
	// mkfs; "none" has no label to limit.
	labelMax = map[string]int{"ext4": 16, "btrfs": 256, "xfs": 12, "swap": 15, "vfat": 11}

	// clevisPins are the pins older versions allow in a custom config.
	clevisPins = []string{"tpm2", "tang", "sss"}
)

const (
	partitionLabelMax = 36 // a GPT name holds 36 UTF-16 units; counted in bytes, as the reference does
	luksLabelMax      = 47 // cryptsetup's LUKS2 label limit
	virtiofsTagMax    = 36 // the virtio-fs device's tag field
)

func (v *validator) storage(st *types.Storage) {
	at := root("storage")
	v.storageNodes(at, st)
	v.filesystemsOnDisks(at, st)

	for i := range st.Directories {
		v.directory(at.Append("directories", i), &st.Directories[i])
	}
	for i := range st.Disks {
		v.disk(at.Append("disks", i), &st.Disks[i])
	}
	for i := range st.Files {
		v.file(at.Append("files", i), &st.Files[i])
	}
	for i := range st.Filesystems {
		v.filesystem(at.Append("filesystems", i), &st.Filesystems[i])
	}
	for i := range st.Links {
		v.link(at.Append("links", i), &st.Links[i])
	}
	for i := range st.Luks {
		v.luks(at.Append("luks", i), &st.Luks[i])
	}
	for i := range st.Raid {
		v.raid(at.Append("raid", i), &st.Raid[i])
	}
}

func (v *validator) disk(at path.ContextPath, d *types.Disk) {
	if d.Device == "" {
		// Without a device the partition table checks are noise.
		v.err(at.Append("device"), errDiskDevice)
	} else {
		v.err(at.Append("device"), checkPath(d.Device))
		v.partitionTable(at, d.Partitions)
	}
	for i := range d.Partitions {
		v.partition(at.Append("partitions", i), &d.Partitions[i])
	}
}

// partitionTable checks the partitions of one disk against each other.
// Each check reports only its first finding: one bad table usually means
// many overlapping pairs, and the first is enough to find the mistake.
func (v *validator) partitionTable(at path.ContextPath, parts []types.Partition) {
	if j := secondNumber(parts); j >= 0 {
		v.err(at.Append("partitions", j), errPartitionNumbers)
	}
	if j := overlapping(parts); j >= 0 {
		v.err(at.Append("partitions", j), errPartitionsOverlap)
	}
	// A partition to delete is matched by number; an unnumbered partition
	// (next free slot) elsewhere in the table makes "which slot" depend on
	// the order of operations.
	anyUnnumbered := slices.ContainsFunc(parts, func(p types.Partition) bool { return p.Number == 0 })
	anyDeleted := slices.ContainsFunc(parts, func(p types.Partition) bool { return isFalse(p.ShouldExist) })
	if anyUnnumbered && anyDeleted {
		v.err(at.Append("partitions"), errPartitionZeroDelete)
	}
	if j := secondLabel(parts); j >= 0 {
		v.err(at.Append("partitions", j), errPartitionLabelTwice)
	}
}

// secondNumber returns the index of the first partition whose non-zero
// number an earlier partition already has, or -1.
func secondNumber(parts []types.Partition) int {
	seen := make(map[int]struct{}, len(parts))
	for i, p := range parts {
		if p.Number == 0 {
			continue
		}
		if _, ok := seen[p.Number]; ok {
			return i
		}
		seen[p.Number] = struct{}{}
	}
	return -1
}

// secondLabel returns the index of the first partition whose label an
// earlier partition already has, or -1.
func secondLabel(parts []types.Partition) int {
	seen := make(map[string]struct{}, len(parts))
	for i, p := range parts {
		if p.Label == nil {
			continue
		}
		if _, ok := seen[*p.Label]; ok {
			return i
		}
		seen[*p.Label] = struct{}{}
	}
	return -1
}

// overlapping returns the index of the other partition of the first
// overlapping pair, or -1. Only partitions with an explicit start and size
// are placed by the config; the others go wherever sgdisk finds room. A
// table has at most 128 entries, so the quadratic scan is fine.
func overlapping(parts []types.Partition) int {
	type extent struct{ start, end int }
	placed := func(p types.Partition) (extent, bool) {
		if p.StartMiB == nil || p.SizeMiB == nil || *p.StartMiB == 0 {
			return extent{}, false
		}
		e := extent{*p.StartMiB, *p.StartMiB + *p.SizeMiB - 1}
		if *p.SizeMiB == 0 { // size 0 means "fill", so only the start is known
			e.end = e.start
		}
		return e, true
	}
	for i := range parts {
		p, ok := placed(parts[i])
		if !ok {
			continue
		}
		for j := range parts {
			o, ok := placed(parts[j])
			if j == i || !ok {
				continue
			}
			within := func(x int) bool { return x >= o.start && x <= o.end }
			if within(p.start) || within(p.end) || (p.start < o.start && p.end > o.end) {
				return j
			}
		}
	}
	return -1
}

func (v *validator) partition(at path.ContextPath, p *types.Partition) {
	// A partition to delete is found by number alone; anything else set
	// would look like it mattered.
	if isFalse(p.ShouldExist) && (p.Label != nil || !isEmpty(p.TypeGUID) || !isEmpty(p.GUID) || p.StartMiB != nil || p.SizeMiB != nil) {
		v.err(at, errPartitionDeleteWith)
	}
	if p.Number == 0 && p.Label == nil {
		v.err(at, errPartitionNoID)
	}
	if p.Label != nil {
		switch {
		case len(*p.Label) > partitionLabelMax:
			v.err(at.Append("label"), errPartitionLabelLong)
		case strings.Contains(*p.Label, ":"):
			// sgdisk takes "number:label", so it would cut the label.
			v.err(at.Append("label"), errPartitionLabelColon)
		}
	}
	if p.GUID != nil && !guidRE.MatchString(*p.GUID) {
		v.err(at.Append("guid"), errGUID)
	}
	if p.TypeGUID != nil && !guidRE.MatchString(*p.TypeGUID) {
		v.err(at.Append("typeGuid"), errGUID)
	}
}

func (v *validator) raid(at path.ContextPath, r *types.Raid) {
	switch spares, known := raidLevels[deref(r.Level)]; {
	case isEmpty(r.Level) && v.s.Has(spec.RaidLevelRequired):
		v.err(at.Append("level"), errRaidLevelRequired)
	case !known:
		v.err(at.Append("level"), errRaidLevel)
	case !spares && r.Spares != nil && *r.Spares != 0:
		v.err(at.Append("level"), errRaidSpares)
	}
	if len(r.Devices) == 0 {
		v.err(at.Append("devices"), errRaidDevices)
	}
	for i, d := range r.Devices {
		v.err(at.Append("devices", i), checkPath(d))
	}
}

func (v *validator) filesystem(at path.ContextPath, fs *types.Filesystem) {
	format := deref(fs.Format)
	// virtiofs shares a host directory: its "device" is a tag, and there
	// is no block device to label, identify, wipe or mkfs.
	virtiofs := format == "virtiofs" && v.s.HasFormat("virtiofs")
	label := deref(fs.Label)

	if !isEmpty(fs.Path) {
		v.err(at.Append("path"), checkPath(*fs.Path))
	}
	switch {
	case !virtiofs:
		v.err(at.Append("device"), checkPath(fs.Device))
	case fs.Device == "":
		v.err(at.Append("device"), errVirtiofsNoTag)
	case len(fs.Device) > virtiofsTagMax:
		v.err(at.Append("device"), errVirtiofsTagLong)
	}
	if format == "" {
		// Without a format Ignition mounts nothing and creates nothing, so
		// these fields would be silently ignored.
		if !isEmpty(fs.Path) || label != "" || !isEmpty(fs.UUID) || isTrue(fs.WipeFilesystem) ||
			len(fs.MountOptions) > 0 || len(fs.Options) > 0 {
			v.err(at.Append("format"), errFormatNeeded)
		}
	} else if !v.s.HasFormat(format) {
		v.err(at.Append("format"), errFormat)
	}
	if label != "" {
		switch limit, limited := labelMax[format]; {
		case format == "":
			v.err(at.Append("label"), errLabelNeedsFormat)
		case virtiofs:
			v.err(at.Append("label"), errVirtiofsLabel)
		case limited && len(label) > limit:
			v.err(at.Append("label"), errLabelTooLongFormat[format])
		}
	}
	if virtiofs {
		if !isEmpty(fs.UUID) {
			v.err(at.Append("uuid"), errVirtiofsUUID)
		}
		if isTrue(fs.WipeFilesystem) {
			v.err(at.Append("wipeFilesystem"), errVirtiofsWipe)
		}
		if len(fs.Options) > 0 {
			v.err(at.Append("options"), errVirtiofsMkfs)
		}
	}
}

// filesystemsOnDisks warns about a filesystem made on a whole disk that the
// config also partitions or wipes: one of the two is almost surely a
// mistake, but both are legal.
func (v *validator) filesystemsOnDisks(at path.ContextPath, st *types.Storage) {
	if len(st.Disks) == 0 {
		return
	}
	disks := make(map[string]*types.Disk, len(st.Disks))
	for i := range st.Disks {
		disks[st.Disks[i].Device] = &st.Disks[i] // the last one wins, as when applying
	}
	for i := range st.Filesystems {
		fs := &st.Filesystems[i]
		d, ok := disks[fs.Device]
		switch {
		case !ok:
		case len(d.Partitions) > 0:
			v.warn(at.Append("filesystems", i, "device"), errOverwritesPartitions)
		case isTrue(d.WipeTable) && !isTrue(fs.WipeFilesystem):
			v.warn(at.Append("filesystems", i, "device"), errWipedByTableWipe)
		}
	}
}

func (v *validator) luks(at path.ContextPath, l *types.Luks) {
	// The name becomes /dev/mapper/<name>.
	if strings.Contains(l.Name, "/") {
		v.err(at.Append("name"), errLuksNameSlash)
	}
	if len(deref(l.Label)) > luksLabelMax {
		v.err(at.Append("label"), errLuksLabelLong)
	}
	if isEmpty(l.Device) {
		v.err(at.Append("device"), errDiskDevice)
	} else {
		v.err(at.Append("device"), checkPath(*l.Device))
	}
	c := &l.Clevis
	customPin := !isEmpty(c.Custom.Pin)
	standard := len(c.Tang) > 0 || isTrue(c.Tpm2) || (c.Threshold != nil && *c.Threshold != 0)
	if customPin && standard {
		v.err(at.Append("clevis"), errClevisCustomMixed)
	}
	if src := deref(l.KeyFile.Source); src != "" && checkURL(v.s, src) != nil {
		// Reported at "keys", a key no version has, as the reference
		// implementation does; tools match on this path.
		v.err(at.Append("keys"), errLuksKeyFile)
	}
	if isTrue(l.Cex.Enabled) {
		// A Crypto Express secure key replaces both Clevis and key files.
		if customPin || standard {
			v.err(at.Append("cex"), errCexWithClevis)
		}
		if deref(l.KeyFile.Source) != "" {
			v.err(at.Append("cex"), errCexWithKeyFile)
		}
	}

	v.clevisCustom(at.Append("clevis", "custom"), &c.Custom)
	for i := range c.Tang {
		v.tang(at.Append("clevis", "tang", i), &c.Tang[i])
	}
	v.resource(at.Append("keyFile"), &l.KeyFile)
}

func (v *validator) clevisCustom(at path.ContextPath, c *types.ClevisCustom) {
	if isEmpty(c.Pin) && isEmpty(c.Config) && !isTrue(c.NeedsNetwork) {
		return // not used
	}
	switch pin := deref(c.Pin); {
	case pin == "" && v.s.Has(spec.ClevisPinRequired):
		v.err(at.Append("pin"), errClevisPinMissing)
	case pin == "" || (!v.s.Has(spec.AnyClevisPin) && !slices.Contains(clevisPins, pin)):
		v.err(at.Append("pin"), errClevisPin)
	}
	if isEmpty(c.Config) {
		v.err(at.Append("config"), errClevisConfig)
	}
}

func (v *validator) tang(at path.ContextPath, t *types.Tang) {
	if u, err := url.Parse(t.URL); err != nil {
		v.err(at.Append("url"), errURLUnparsable)
	} else if u.Scheme != "http" && u.Scheme != "https" {
		v.err(at.Append("url"), errURLScheme)
	}
	if isEmpty(t.Thumbprint) {
		v.err(at.Append("thumbprint"), errTangThumbprint)
	}
	if a := deref(t.Advertisement); a != "" && !json.Valid([]byte(a)) {
		v.err(at.Append("advertisement"), errTangAdvertisement)
	}
}
