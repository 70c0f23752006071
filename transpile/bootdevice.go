package transpile

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ignition-go/ignition/config/types"
)

// GPT partition type GUIDs of the partitions boot_device.mirror replicates.
const (
	biosBootTypeGUID = "21686148-6449-6E6F-744E-656564454649"
	espTypeGUID      = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	prepTypeGUID     = "9E1A2D38-C612-4316-AA26-8B49521E5A8B"
	// reservedTypeGUID marks the 1 MiB placeholder that keeps boot and
	// root at the same numbers (3 and 4) on every architecture.
	reservedTypeGUID = "8DA63339-0007-60C0-C436-083AC8230908"
)

// Sizes of the replicated partitions, those of the Fedora CoreOS image
// (docs.fedoraproject.org, fedora-coreos/storage "Disk layout"): the BIOS
// boot partition 1 MiB, the EFI system partition 127 MiB, the PReP boot
// partition 4 MiB and /boot 384 MiB; a 1 MiB reserved partition fills
// the slot an architecture has no use for. Each root replica takes the
// rest.
const (
	biosBootMiB = 1
	reservedMiB = 1
	espMiB      = 127
	prepMiB     = 4
	bootMiB     = 384
)

// s390xDevice is the whole disk luks.device names on the s390x layouts
// that need one: an ECKD DASD or a zFCP SCSI disk, by its kernel name.
var s390xDevice = map[string]*regexp.Regexp{
	"s390x-eckd": regexp.MustCompile(`^/dev/dasd[a-z]$`),
	"s390x-zfcp": regexp.MustCompile(`^/dev/sd[a-z]$`),
}

// layouts are the boot_device layouts; the s390x ones arrived with
// featBootS390.
var layouts = []string{"aarch64", "ppc64le", "s390x-eckd", "s390x-virt", "s390x-zfcp", "x86_64"}

// bootDevice is boot_device as the YAML wrote it.
type bootDevice struct {
	node, layoutNode, luksNode, mirrorNode *yaml.Node
	layout                                 string // "" when not given
	// luks
	tang       []types.Tang
	tangNodes  []*yaml.Node
	tpm2       *bool
	threshold  *int
	discard    *bool
	device     *string
	deviceNode *yaml.Node
	cex        types.Cex
	// mirror
	devices     []string
	deviceNodes []*yaml.Node
}

// parseBootDevice reads boot_device. Each key is gated by the version:
// the keys that become LUKS fields are gated as those Ignition fields
// (advertisement, discard and cex arrived with the Ignition spec that
// brought them), device and the s390x layouts by featBootS390.
func (w *walker) parseBootDevice(n *yaml.Node) {
	const in = "boot_device"
	n = w.expect(n, in, yaml.MappingNode)
	if n == nil {
		return
	}
	b := &bootDevice{node: n}
	for _, p := range w.mapPairs(n, in) {
		k, val, kin := p.key, w.resolve(p.value), join(in, p.key.Value)
		switch k.Value {
		case "layout":
			if s, ok := w.str(val, kin); ok {
				b.layout, b.layoutNode = s, val
			}
		case "luks":
			b.luksNode = k
			w.parseBootLuks(b, val, kin)
		case "mirror":
			b.mirrorNode = k
			w.parseBootMirror(b, val, kin)
		default:
			w.errorAt(k, kin, "unknown key %s", k.Value)
		}
	}
	w.boot = b
}

// mapPairs is pairs for a mapping of sugar, with duplicate keys reported.
func (w *walker) mapPairs(n *yaml.Node, in string) []pair {
	var out []pair
	seen := map[string]bool{}
	for _, p := range w.pairs(n, in, 0) {
		if seen[p.key.Value] {
			if !p.merged {
				w.errorAt(p.key, join(in, p.key.Value), "duplicate key %s", p.key.Value)
			}
			continue
		}
		seen[p.key.Value] = true
		out = append(out, p)
	}
	return out
}

func (w *walker) parseBootLuks(b *bootDevice, n *yaml.Node, in string) {
	n = w.expect(n, in, yaml.MappingNode)
	if n == nil {
		return
	}
	// Decoded as the fields of the generated LUKS volume, so that a key
	// this version's Ignition spec lacks is refused as it would be there.
	at := func(key, out string) where {
		return where{out: "boot_device.luks." + out, in: join(in, key), key: "storage.luks." + out}
	}
	for _, p := range w.mapPairs(n, in) {
		k, val, name := p.key, p.value, p.key.Value
		var gate string
		switch name {
		case "tang", "tpm2", "threshold":
			gate = "storage.luks.clevis." + name
		case "discard", "cex":
			gate = "storage.luks." + name
		case "device":
			if !w.v.has(featBootS390) {
				gate = "-"
			}
		default:
			gate = "-"
		}
		if gate == "-" || (gate != "" && (!allowed(w.v.Ignition, gate) || w.forbidden(gate))) {
			w.unknownBootKey(k, join(in, name), name)
			continue
		}
		switch name {
		case "tang":
			w.value(val, reflect.ValueOf(&b.tang).Elem(), at(name, "clevis.tang"))
			if v := w.resolve(val); v != nil && v.Kind == yaml.SequenceNode {
				b.tangNodes = v.Content
			}
		case "tpm2":
			w.value(val, reflect.ValueOf(&b.tpm2).Elem(), at(name, "clevis.tpm2"))
		case "threshold":
			w.value(val, reflect.ValueOf(&b.threshold).Elem(), at(name, "clevis.threshold"))
		case "discard":
			w.value(val, reflect.ValueOf(&b.discard).Elem(), at(name, "discard"))
		case "cex":
			w.value(val, reflect.ValueOf(&b.cex).Elem(), at(name, "cex"))
		case "device":
			w.value(val, reflect.ValueOf(&b.device).Elem(), at(name, "device"))
			b.deviceNode = w.resolve(val)
		}
	}
}

func (w *walker) parseBootMirror(b *bootDevice, n *yaml.Node, in string) {
	n = w.expect(n, in, yaml.MappingNode)
	if n == nil {
		return
	}
	for _, p := range w.mapPairs(n, in) {
		k, name := p.key, p.key.Value
		if name != "devices" {
			w.errorAt(k, join(in, name), "unknown key %s", name)
			continue
		}
		val := w.resolve(p.value)
		w.value(val, reflect.ValueOf(&b.devices).Elem(), where{out: "boot_device.mirror.devices", in: join(in, name)})
		if val != nil && val.Kind == yaml.SequenceNode {
			b.deviceNodes = val.Content
		}
	}
}

// unknownBootKey reports a boot_device.luks key this version lacks, with
// the first version that has it.
func (w *walker) unknownBootKey(k *yaml.Node, in, name string) {
	note := w.laterVersions(name, func(lw *walker) bool { return lw.bootLuksKnows(name) })
	w.errorAt(k, in, "unknown key %s%s", name, note)
}

func (w *walker) bootLuksKnows(name string) bool {
	if !w.v.has(featBootDevice) {
		return false
	}
	switch name {
	case "tang", "tpm2", "threshold":
		return true
	case "discard", "cex":
		return allowed(w.v.Ignition, "storage.luks."+name) && !w.forbidden("storage.luks."+name)
	case "device":
		return w.v.has(featBootS390)
	}
	return false
}

// bootConfig builds the config boot_device stands for; the user's own
// storage entries are merged over it, so that they can override what is
// generated (a root replica's size, the root filesystem's format).
// The returned map places each generated output path in the YAML.
func (w *walker) bootConfig() (types.Config, map[string]loc) {
	var cfg types.Config
	tr := map[string]loc{}
	b := w.boot
	if b == nil {
		return cfg, tr
	}
	rec := func(out string, n *yaml.Node, in string) {
		if _, ok := tr[out]; !ok && n != nil {
			tr[out] = loc{path: in, line: n.Line, col: n.Column}
		}
	}
	if b.luksNode == nil && b.mirrorNode == nil {
		w.warnAt(b.node, "boot_device", "boot_device has neither luks nor mirror, so it does nothing")
	}
	layout := b.layout
	if layout == "" {
		layout = "x86_64"
		switch {
		case b.mirrorNode != nil && w.v.has(featMirrorLayout):
			w.errorAt(b.mirrorNode, "boot_device.mirror",
				"boot_device.mirror needs boot_device.layout (%s no longer assumes x86_64)", w.v)
			return cfg, tr
		case b.mirrorNode != nil:
			w.warnAt(b.mirrorNode, "boot_device.mirror",
				"boot_device.mirror without layout uses the x86_64 partition layout; set layout on aarch64, ppc64le and s390x")
		}
	} else if !w.layoutKnown(layout) {
		supported := []string{}
		for _, l := range layouts {
			if w.layoutKnown(l) {
				supported = append(supported, l)
			}
		}
		w.errorAt(b.layoutNode, "boot_device.layout", "unsupported layout %q; %s supports %s", layout, w.v, strings.Join(supported, ", "))
		return cfg, tr
	}
	s390 := strings.HasPrefix(layout, "s390x-")

	if re := s390xDevice[layout]; re != nil {
		if b.device == nil {
			at, in := b.node, "boot_device"
			if b.luksNode != nil {
				at, in = b.luksNode, "boot_device.luks"
			}
			w.errorAt(at, in, "layout %s needs boot_device.luks.device (the whole disk, e.g. %s)", layout, map[string]string{"s390x-eckd": "/dev/dasda", "s390x-zfcp": "/dev/sda"}[layout])
			return cfg, tr
		}
		if !re.MatchString(*b.device) {
			w.errorAt(b.deviceNode, "boot_device.luks.device", "layout %s needs a whole disk matching %s, found %s", layout, re, *b.device)
			return cfg, tr
		}
	}

	rootDevice := "/dev/disk/by-partlabel/root"
	rootAt, rootIn := b.luksNode, "boot_device.luks"
	mirrored := b.mirrorNode != nil && len(b.devices) > 0
	if b.mirrorNode != nil && len(b.devices) == 0 {
		w.warnAt(b.mirrorNode, "boot_device.mirror", "boot_device.mirror has no devices, so the boot disk is not mirrored")
	}
	if mirrored {
		rootAt, rootIn = b.mirrorNode, "boot_device.mirror"
		if s390 {
			w.errorAt(b.mirrorNode, "boot_device.mirror", "boot_device.mirror is not supported on the s390x layouts (%s)", layout)
			return cfg, tr
		}
		if len(b.devices) < 2 {
			w.errorAt(b.mirrorNode, "boot_device.mirror", "boot_device.mirror needs at least two devices")
			return cfg, tr
		}
		w.mirror(&cfg, b, layout, rec)
		rootDevice = "/dev/md/md-root"
	}

	cexOn := b.cex.Enabled != nil && *b.cex.Enabled
	clevis := len(b.tang) > 0 || (b.tpm2 != nil && *b.tpm2)
	if b.luksNode != nil && !cexOn && !clevis {
		// Nothing to unlock the volume with means no volume: the root
		// filesystem stays plain. fcos 1.7.0 refuses that when a device
		// is named; earlier versions let it pass, so we warn loudly.
		if b.device != nil && w.v.has(featMirrorLayout) {
			w.errorAt(b.luksNode, "boot_device.luks", "boot_device.luks needs tang, tpm2 or cex when device is set")
			return cfg, tr
		}
		w.warnAt(b.luksNode, "boot_device.luks", "boot_device.luks has no tang, tpm2 or cex: the root filesystem will NOT be encrypted")
	}
	if b.luksNode != nil && (cexOn || clevis) {
		luksDevice := rootDevice
		deviceIn := "boot_device.luks.device"
		switch {
		case layout == "s390x-eckd":
			// The root filesystem is the second partition of an ECKD
			// DASD and the fourth of a zFCP SCSI disk.
			luksDevice = *b.device + "2"
		case layout == "s390x-zfcp":
			luksDevice = *b.device + "4"
		case b.device != nil:
			w.warnAt(b.deviceNode, deviceIn, "boot_device.luks.device is ignored: only the s390x-eckd and s390x-zfcp layouts use it")
		}
		switch {
		case cexOn && clevis:
			w.errorAt(b.luksNode, "boot_device.luks", "boot_device.luks: cex and tang/tpm2 are mutually exclusive")
			return cfg, tr
		case cexOn && b.layoutNode == nil:
			w.errorAt(b.luksNode, "boot_device.luks.cex", "boot_device.luks.cex needs an s390x layout (boot_device.layout)")
			return cfg, tr
		case cexOn && !s390:
			w.errorAt(b.layoutNode, "boot_device.layout", "boot_device.luks.cex needs an s390x layout, found %s", layout)
			return cfg, tr
		}
		l := types.Luks{
			Name:       "root",
			Label:      ptr("luks-root"),
			Device:     &luksDevice,
			WipeVolume: ptr(true),
			Discard:    b.discard,
		}
		if cexOn {
			l.Cex = b.cex
		} else {
			l.Clevis = types.Clevis{Tang: b.tang, Tpm2: b.tpm2, Threshold: b.threshold}
		}
		cfg.Storage.Luks = append(cfg.Storage.Luks, l)
		rec("storage.luks.0", b.luksNode, "boot_device.luks")
		for i, t := range b.tangNodes {
			rec(fmt.Sprintf("storage.luks.0.clevis.tang.%d", i), t, fmt.Sprintf("boot_device.luks.tang.%d", i))
		}
		for out, l := range w.tr {
			if rest, ok := strings.CutPrefix(out, "boot_device.luks."); ok {
				tr["storage.luks.0."+rest] = l
			}
		}
		if b.deviceNode != nil {
			rec("storage.luks.0.device", b.deviceNode, deviceIn)
		}
		rootDevice = "/dev/mapper/root"
		rootAt, rootIn = b.luksNode, "boot_device.luks"
	}
	// A new root filesystem only where there is a new device under it.
	if mirrored || rootDevice == "/dev/mapper/root" {
		rec(fmt.Sprintf("storage.filesystems.%d", len(cfg.Storage.Filesystems)), rootAt, rootIn)
		cfg.Storage.Filesystems = append(cfg.Storage.Filesystems, types.Filesystem{
			Device: rootDevice, Format: ptr("xfs"), Label: ptr("root"), WipeFilesystem: ptr(true),
		})
	}
	// The sugar's own paths are not output paths.
	for out := range w.tr {
		if strings.HasPrefix(out, "boot_device.") {
			delete(w.tr, out)
		}
	}
	return cfg, tr
}

// mirror adds, per device, the replicas of the image's partitions, RAID1
// arrays for /boot and root, and a filesystem for /boot and each EFI
// system partition (those are not mirrored: firmware reads them plain).
func (w *walker) mirror(cfg *types.Config, b *bootDevice, layout string, rec func(string, *yaml.Node, string)) {
	var bootParts, rootParts []string
	for i, dev := range b.devices {
		n := i + 1
		at, in := b.mirrorNode, "boot_device.mirror.devices"
		if i < len(b.deviceNodes) {
			at, in = b.deviceNodes[i], fmt.Sprintf("boot_device.mirror.devices.%d", i)
		}
		d := types.Disk{Device: dev, WipeTable: ptr(true)}
		part := func(label string, size int, typeGUID string) {
			p := types.Partition{Label: ptr(fmt.Sprintf("%s-%d", label, n))}
			if size > 0 {
				p.SizeMiB = ptr(size)
			}
			if typeGUID != "" {
				p.TypeGUID = ptr(typeGUID)
			}
			d.Partitions = append(d.Partitions, p)
		}
		esp := false
		switch layout {
		case "x86_64":
			part("bios", biosBootMiB, biosBootTypeGUID)
			part("esp", espMiB, espTypeGUID)
			esp = true
		case "aarch64":
			part("reserved", reservedMiB, reservedTypeGUID)
			part("esp", espMiB, espTypeGUID)
			esp = true
		case "ppc64le":
			part("prep", prepMiB, prepTypeGUID)
			part("reserved", reservedMiB, reservedTypeGUID)
		}
		part("boot", bootMiB, "")
		part("root", 0, "")
		rec(fmt.Sprintf("storage.disks.%d", len(cfg.Storage.Disks)), at, in)
		cfg.Storage.Disks = append(cfg.Storage.Disks, d)
		bootParts = append(bootParts, fmt.Sprintf("/dev/disk/by-partlabel/boot-%d", n))
		rootParts = append(rootParts, fmt.Sprintf("/dev/disk/by-partlabel/root-%d", n))
		if esp {
			label := fmt.Sprintf("esp-%d", n)
			rec(fmt.Sprintf("storage.filesystems.%d", len(cfg.Storage.Filesystems)), at, in)
			cfg.Storage.Filesystems = append(cfg.Storage.Filesystems, types.Filesystem{
				Device: "/dev/disk/by-partlabel/" + label, Format: ptr("vfat"), Label: &label, WipeFilesystem: ptr(true),
			})
		}
	}
	rec("storage.raid.0", b.mirrorNode, "boot_device.mirror")
	rec("storage.raid.1", b.mirrorNode, "boot_device.mirror")
	cfg.Storage.Raid = append(cfg.Storage.Raid,
		// Metadata at the end of the members keeps each one a plain ext4
		// filesystem to a bootloader that knows nothing of md.
		types.Raid{Name: "md-boot", Level: ptr("raid1"), Devices: bootParts, Options: []string{"--metadata=1.0"}},
		types.Raid{Name: "md-root", Level: ptr("raid1"), Devices: rootParts})
	rec(fmt.Sprintf("storage.filesystems.%d", len(cfg.Storage.Filesystems)), b.mirrorNode, "boot_device.mirror")
	cfg.Storage.Filesystems = append(cfg.Storage.Filesystems, types.Filesystem{
		Device: "/dev/md/md-boot", Format: ptr("ext4"), Label: ptr("boot"), WipeFilesystem: ptr(true),
	})
}

func (w *walker) layoutKnown(l string) bool {
	for _, x := range layouts {
		if x == l {
			return !strings.HasPrefix(l, "s390x-") || w.v.has(featBootS390)
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }
