package transpile

import (
	"fmt"
	"sort"
	"strings"

	"github.com/coreos/go-semver/semver"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/config/spec"
)

// feature is a piece of sugar (or a section) that only some variant
// versions have.
type feature string

const (
	// featInlineFiles: `inline` on storage.files contents and append (fcos 1.0.0).
	featInlineFiles feature = "inline-files"
	// featResources: `inline` and `local` on every resource.
	featResources feature = "inline-local"
	// featTrees: storage.trees.
	featTrees feature = "trees"
	// featMountUnit: filesystems with_mount_unit for mounted filesystems.
	featMountUnit feature = "mount-unit"
	// featSwapUnit: with_mount_unit on a swap area makes a .swap unit.
	featSwapUnit feature = "swap-unit"
	// featContentsLocal: contents_local on units and drop-ins.
	featContentsLocal feature = "contents-local"
	// featSSHKeysLocal: passwd.users ssh_authorized_keys_local.
	featSSHKeysLocal feature = "ssh-keys-local"
	// featBootDevice: the boot_device section (layouts x86_64, aarch64,
	// ppc64le; luks with tang, tpm2 and threshold; mirror).
	featBootDevice feature = "boot-device"
	// featBootS390: boot_device layouts s390x-eckd, s390x-virt and
	// s390x-zfcp, and boot_device.luks.device.
	featBootS390 feature = "boot-device-s390x"
	// featGrub: the grub section (grub.users).
	featGrub feature = "grub"
	// featQuadlets: systemd.quadlets (experimental versions).
	featQuadlets feature = "quadlets"
	// featTreeModes: storage.trees file_mode, dir_mode, user and group
	// (Butane 0.26.0: fcos 1.7.0 and the experimental versions).
	featTreeModes feature = "tree-modes"
	// featMirrorLayout: boot_device.mirror without layout is an error, not
	// a warning (fcos 1.7.0 and later).
	featMirrorLayout feature = "mirror-needs-layout"
	// featFIPSCipher: openshift.fips sets a FIPS 140-2 cipher on the LUKS
	// volumes of the config (openshift 4.8.0–4.19.0; from 4.20.0 the
	// default cipher is kept).
	featFIPSCipher feature = "fips-cipher"
	// featReuseByLabel: warn about partitions without a number on kept
	// tables (Butane 0.19.0: fcos 1.6.0, openshift 4.14.0).
	featReuseByLabel feature = "reuse-by-label-lint"
	// featMountUnderEtcVar: with_mount_unit only for paths under /etc or
	// /var, the writable parts of the image (fcos 1.6.0, openshift 4.14.0).
	featMountUnderEtcVar feature = "mount-under-etc-var"
	// featNoCompression: no gzip chosen for inline and local contents, and
	// no compression field on files (openshift 4.8.0 and 4.9.0, whose
	// Machine Config Operator could not decompress).
	featNoCompression feature = "no-compression"
	// featNoSpecialModes: setuid, setgid and sticky bits on files are an
	// error (openshift 4.10.0 and later stable versions; elsewhere only
	// Ignition's own warning for specs before 3.6.0).
	featNoSpecialModes feature = "no-special-modes"
	// featOpenShift: the metadata and openshift sections, and the
	// MachineConfig output.
	featOpenShift feature = "openshift"
)

// Version is one (variant, version) of the Butane format: which fields it
// allows and which Ignition spec it emits.
type Version struct {
	Variant  string
	Version  semver.Version
	Ignition *spec.Spec
	features []feature
	// forbidden are Ignition key paths (dotted, camelCase) the target spec
	// has but this variant refuses.
	forbidden []string
}

// String is "variant version", e.g. "fcos 1.5.0".
func (v *Version) String() string { return v.Variant + " " + v.Version.String() }

func (v *Version) has(f feature) bool {
	for _, x := range v.features {
		if x == f {
			return true
		}
	}
	return false
}

func ign(version string) *spec.Spec {
	s := config.Lookup(version)
	if s == nil {
		panic("transpile: no Ignition spec " + version)
	}
	return s
}

// Each list of features is the one before it plus what that version added.
var (
	fcos10 = []feature{featInlineFiles}
	fcos11 = append(clone(fcos10), featResources, featTrees, featMountUnit)
	fcos13 = append(clone(fcos11), featBootDevice)
	fcos14 = append(clone(fcos13), featSwapUnit)
	fcos15 = append(clone(fcos14), featContentsLocal, featSSHKeysLocal, featGrub)
	fcos16 = append(clone(fcos15), featBootS390, featReuseByLabel, featMountUnderEtcVar)
	fcos17 = append(clone(fcos16), featTreeModes, featMirrorLayout)

	flatcar10 = []feature{featInlineFiles, featResources, featTrees, featMountUnit, featSwapUnit}
	flatcar11 = append(clone(flatcar10), featContentsLocal, featSSHKeysLocal)
)

func clone(f []feature) []feature { return append([]feature(nil), f...) }

func clone2(s []string) []string { return append([]string(nil), s...) }

func without(f []feature, drop feature) []feature {
	var out []feature
	for _, x := range f {
		if x != drop {
			out = append(out, x)
		}
	}
	return out
}

// Versions is the variant/version table (Butane docs/specs.md): every
// supported (variant, version) and the Ignition spec it emits.
var Versions = []*Version{
	{Variant: "fcos", Version: *semver.New("1.0.0"), Ignition: ign("3.0.0"), features: fcos10},
	{Variant: "fcos", Version: *semver.New("1.1.0"), Ignition: ign("3.1.0"), features: fcos11},
	{Variant: "fcos", Version: *semver.New("1.2.0"), Ignition: ign("3.2.0"), features: fcos11},
	{Variant: "fcos", Version: *semver.New("1.3.0"), Ignition: ign("3.2.0"), features: fcos13},
	{Variant: "fcos", Version: *semver.New("1.4.0"), Ignition: ign("3.3.0"), features: fcos14},
	{Variant: "fcos", Version: *semver.New("1.5.0"), Ignition: ign("3.4.0"), features: fcos15},
	{Variant: "fcos", Version: *semver.New("1.6.0"), Ignition: ign("3.5.0"), features: fcos16},
	{Variant: "fcos", Version: *semver.New("1.7.0"), Ignition: ign("3.6.0"), features: fcos17},
	{Variant: "fcos", Version: *semver.New("1.8.0-experimental"), Ignition: ign("3.7.0-experimental"), features: append(clone(fcos17), featQuadlets)},
	// Flatcar has no boot_device or grub sections, no Crypto Express
	// (cex) and, before 1.2.0, no Clevis.
	{Variant: "flatcar", Version: *semver.New("1.0.0"), Ignition: ign("3.3.0"), features: flatcar10,
		forbidden: []string{"storage.luks.clevis"}},
	{Variant: "flatcar", Version: *semver.New("1.1.0"), Ignition: ign("3.4.0"), features: flatcar11,
		forbidden: []string{"storage.luks.clevis"}},
	{Variant: "flatcar", Version: *semver.New("1.2.0-experimental"), Ignition: ign("3.7.0-experimental"), features: append(clone(flatcar11), featQuadlets, featTreeModes),
		forbidden: []string{"storage.luks.cex"}},
}

// The openshift variant: the fcos features of the same Ignition spec
// (4.8–4.13 emit 3.2.0, 4.14–4.18 3.4.0, 4.19–4.22 3.5.0; Butane
// docs/specs.md and each config-openshift-v4_*.md) and the fields the
// Machine Config Operator cannot apply refused. Each stable version was
// rolled back to the Ignition spec OpenShift shipped, without the sugar of
// its experimental predecessor: grub ("Unsupported" in every stable
// config-openshift doc) and tree modes are in the experimental version only.
//
// Butane's sources disagree on 4.22.0: docs/specs.md (and its doc tests)
// say Ignition 3.5.0, the 0.28.0 release note says 3.6.0. We follow
// specs.md, the table the format is defined by; 4.21.0 configs upgrade to
// 4.22.0 unchanged either way.
var (
	openshift48  = append(clone(fcos13), featFIPSCipher, featNoCompression)
	openshift410 = append(without(openshift48, featNoCompression), featSwapUnit, featNoSpecialModes)
	openshift414 = append(clone(openshift410), featContentsLocal, featSSHKeysLocal, featReuseByLabel, featMountUnderEtcVar)
	openshift419 = append(clone(openshift414), featBootS390)
	openshift420 = without(openshift419, featFIPSCipher)

	openshiftForbidden = []string{
		"kernelArguments", // openshift.kernel_arguments instead
		"storage.directories", "storage.links", "storage.files.append", "storage.files.contents.httpHeaders",
		"passwd.groups", "passwd.users.uid", "passwd.users.gecos", "passwd.users.homeDir", "passwd.users.noCreateHome",
		"passwd.users.primaryGroup", "passwd.users.groups", "passwd.users.noUserGroup", "passwd.users.noLogInit",
		"passwd.users.shell", "passwd.users.shouldExist", "passwd.users.system",
	}
)

func init() {
	add := func(version, ignition string, features []feature) {
		v := &Version{Variant: "openshift", Version: *semver.New(version), Ignition: ign(ignition),
			features: append(clone(features), featOpenShift)}
		v.forbidden = clone2(openshiftForbidden)
		if v.has(featNoCompression) {
			v.forbidden = append(v.forbidden, "storage.files.contents.compression")
		}
		// The core user's password hash came with 4.13.0.
		if v.Version.LessThan(*semver.New("4.13.0")) {
			v.forbidden = append(v.forbidden, "passwd.users.passwordHash")
		}
		Versions = append(Versions, v)
	}
	for minor := 8; minor <= 22; minor++ {
		v := fmt.Sprintf("4.%d.0", minor)
		switch {
		case minor <= 9:
			add(v, "3.2.0", openshift48)
		case minor <= 13:
			add(v, "3.2.0", openshift410)
		case minor <= 18:
			add(v, "3.4.0", openshift414)
		case minor == 19:
			add(v, "3.5.0", openshift419)
		default:
			add(v, "3.5.0", openshift420)
		}
	}
	add("4.23.0-experimental", "3.7.0-experimental", append(clone(openshift420), featGrub, featTreeModes, featQuadlets))
}

// RHEL for Edge (r4e) and Fedora IoT (fiot) configure files, directories,
// links, units and users only: their images are not repartitioned.
var (
	edgeForbidden = []string{"kernelArguments", "storage.disks", "storage.raid", "storage.filesystems", "storage.luks"}
	r4e10         = []feature{featInlineFiles, featResources, featTrees}
	r4e11         = append(clone(r4e10), featContentsLocal, featSSHKeysLocal)
)

func init() {
	add := func(variant, version, ignition string, features []feature) {
		Versions = append(Versions, &Version{Variant: variant, Version: *semver.New(version), Ignition: ign(ignition),
			features: features, forbidden: edgeForbidden})
	}
	add("r4e", "1.0.0", "3.3.0", r4e10)
	add("r4e", "1.1.0", "3.4.0", r4e11)
	add("r4e", "1.2.0-experimental", "3.7.0-experimental", append(clone(r4e11), featQuadlets, featTreeModes))
	add("fiot", "1.0.0", "3.4.0", r4e11)
	add("fiot", "1.1.0-experimental", "3.7.0-experimental", append(clone(r4e11), featQuadlets, featTreeModes))
}

// LookupVersion returns the table entry for a variant and version, or an
// error that lists what is supported.
func LookupVersion(variant, version string) (*Version, error) {
	known := false
	for _, v := range Versions {
		if v.Variant != variant {
			continue
		}
		known = true
		if v.Version.String() == version {
			return v, nil
		}
	}
	if !known {
		return nil, fmt.Errorf("unsupported variant %q; supported variants are %s", variant, strings.Join(variants(), ", "))
	}
	return nil, fmt.Errorf("unsupported %s version %q; supported versions are %s", variant, version, strings.Join(versionsOf(variant), ", "))
}

func variants() []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range Versions {
		if !seen[v.Variant] {
			seen[v.Variant] = true
			out = append(out, v.Variant)
		}
	}
	sort.Strings(out)
	return out
}

func versionsOf(variant string) []string {
	var out []string
	for _, v := range Versions {
		if v.Variant == variant {
			out = append(out, v.Version.String())
		}
	}
	return out
}

// allowed reports whether Ignition key path p (dotted camelCase, list
// elements left out) exists in s: the nearest ancestor-or-self of p that
// some spec lists must have been added by s or a spec before it. This is
// the rule config/ applies when it parses JSON, restated for the YAML walk.
func allowed(s *spec.Spec, p string) bool {
	for {
		if t := firstListing(p); t != nil {
			return !s.Version.LessThan(t.Version)
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// firstListing returns the oldest spec whose Keys list p, or nil.
func firstListing(p string) *spec.Spec {
	for _, s := range config.Versions {
		for _, k := range s.Keys {
			if k == p {
				return s
			}
		}
	}
	return nil
}
