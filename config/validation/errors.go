package validation

import (
	"errors"
	"fmt"
)

// The messages below are a compatibility interface: tools and people match
// on them, and they must read exactly as the reference implementation's do.
// Change a message only together with every other Ignition implementation.
//
// Which entries are warnings rather than errors is decided where they are
// reported (v.warn); those are marked "warning" here.

// Paths and URLs.
var (
	errPathEmpty        = errors.New("path not specified")
	errPathRelative     = errors.New("path not absolute")
	errPathUnclean      = errors.New("path is not fully simplified")
	errURLUnparsable    = errors.New("unable to parse url")
	errURLScheme        = errors.New("invalid url scheme")
	errS3VersionID      = errors.New("invalid S3 object VersionId")
	errS3ARN            = errors.New("invalid S3 ARN format")
	errSourceRequired   = errors.New("source is required")
	errSourceForHash    = errors.New("source must be specified if verification is specified")
	errCompression      = errors.New("invalid compression method")
	errHeaderNameEmpty  = errors.New("HTTP header name can't be empty")
	errHeaderValue      = errors.New("unable to parse HTTP header")
	errHeadersForScheme = errors.New("cannot use HTTP headers with this source scheme")
	errHashMalformed    = errors.New("malformed hash specifier")
	errHashFunction     = errors.New("unrecognized hash function")
	errHashLength       = errors.New("incorrect size for hash sum")
	errProxyScheme      = errors.New("proxies must be http(s)")
	errPlaintextProxy   = errors.New("insecure plaintext HTTP proxy specified for HTTPS resources") // warning
)

// Disks, partitions and RAID.
var (
	errDiskDevice          = errors.New("disk device is required")
	errPartitionNumbers    = errors.New("partition numbers collide")
	errPartitionsOverlap   = errors.New("partitions overlap")
	errPartitionZeroDelete = errors.New("shouldExist is false for a partition and other partition(s) has start or size 0")
	errPartitionLabelTwice = errors.New("cannot use the same partition label twice")
	errPartitionDeleteWith = errors.New("shouldExist specified false with other options also specified")
	errPartitionNoID       = errors.New("a partition number >= 1 or a label must be specified")
	errPartitionLabelLong  = errors.New("partition labels may not exceed 36 characters")
	errPartitionLabelColon = errors.New("partition label will be truncated to text before the colon")
	errGUID                = errors.New(`doesn't match the form "01234567-89AB-CDEF-EDCB-A98765432101"`)
	errRaidLevelRequired   = errors.New("raid level is required")
	errRaidLevel           = errors.New("unrecognized raid level")
	errRaidSpares          = errors.New("spares unsupported for linear and raid0 arrays")
	errRaidDevices         = errors.New("raid devices required")
)

// Filesystems.
var (
	errFormat               = errors.New("invalid filesystem format")
	errFormatNeeded         = errors.New("format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified")
	errLabelNeedsFormat     = errors.New("filesystem must specify format if label is specified")
	errVirtiofsLabel        = errors.New("filesystem labels cannot be set when using virtiofs")
	errVirtiofsNoTag        = errors.New("device not specified")
	errVirtiofsTagLong      = errors.New("virtiofs device tag cannot be longer than 36 bytes")
	errVirtiofsUUID         = errors.New("filesystem uuid cannot be set for non-block-device filesystems")
	errVirtiofsWipe         = errors.New("wipeFilesystem cannot be set for non-block-device filesystems")
	errVirtiofsMkfs         = errors.New("filesystem options (mkfs) cannot be set for non-block-device filesystems")
	errOverwritesPartitions = errors.New("filesystem overwrites partitioned device")                             // warning
	errWipedByTableWipe     = errors.New("device matches disk with wipeTable enabled; filesystem will be wiped") // warning
	errLabelTooLongFormat   = map[string]error{
		"ext4":  errors.New("filesystem labels cannot be longer than 16 characters when using ext4"),
		"btrfs": errors.New("filesystem labels cannot be longer than 256 characters when using btrfs"),
		"xfs":   errors.New("filesystem labels cannot be longer than 12 characters when using xfs"),
		"swap":  errors.New("filesystem labels cannot be longer than 15 characters when using swap"),
		"vfat":  errors.New("filesystem labels cannot be longer than 11 characters when using vfat"),
	}
)

// LUKS, Clevis, Tang and Crypto Express.
var (
	errLuksNameSlash     = errors.New("device names cannot contain slashes")
	errLuksLabelLong     = errors.New("luks device labels cannot be longer than 47 characters")
	errLuksKeyFile       = errors.New("invalid key-file source")
	errClevisPinMissing  = errors.New("missing required custom clevis pin")
	errClevisPin         = errors.New("unsupported clevis pin")
	errClevisConfig      = errors.New("missing required custom clevis config")
	errClevisCustomMixed = errors.New("cannot use custom clevis config with tpm2, tang, or threshold")
	errTangThumbprint    = errors.New("thumbprint is required")
	errTangAdvertisement = errors.New("advertisement is not valid JSON")
	errCexWithClevis     = errors.New("cannot use cex with clevis")
	errCexWithKeyFile    = errors.New("cannot use key file with cex")
)

// Files, directories and links.
var (
	errFileUnderLink      = errors.New("file path includes link in config")
	errDirectoryUnderLink = errors.New("directory path includes link in config")
	errLinkUnderLink      = errors.New("link path includes link in config")
	errLinkTarget         = errors.New("link target is required")
	errHardLinkToDir      = errors.New("hard link target is a directory")
	errHardLinkOwner      = errors.New("user/group ignored for hard link") // warning
	errOverwriteNoSource  = errors.New("overwrite must be false if source is unspecified")
	errMode               = errors.New("illegal file mode")
	errModeSpecialBits    = errors.New("setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0") // warning
	errOwnerIDAndName     = errors.New("cannot set both id and name")
	errPathIsSystemd      = errors.New("path conflicts with systemd unit or dropin")
)

// systemd.
var (
	errUnitExt   = errors.New("invalid systemd unit extension")
	errDropinExt = errors.New("invalid systemd drop-in extension")
)

// Any list.
var errDuplicate = errors.New("duplicate entry defined")

// unitContentError wraps a unit parser error; the parser's text says what
// is wrong and where.
func unitContentError(err error) error { return errors.New("invalid unit content: " + err.Error()) }

func noInstallWarning(unit string) error {
	return fmt.Errorf("unit %q is enabled, but has no install section so enable does nothing", unit)
}

func noTemplateInstallWarning(template, instance string) error {
	return fmt.Errorf("template unit %q for %q doesn't have Install section", template, instance)
}
