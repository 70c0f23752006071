// Package distro holds every host command path and well-known location the
// binaries use. Each is a variable so that a distribution (or a test build)
// can retarget it with
//
//	LDFLAGS='-X github.com/ignition-go/ignition/internal/distro.systemConfigDir=/etc/ignition' ./build
package distro

var (
	systemConfigDir  = "/usr/lib/ignition"
	localConfigDir   = "/etc/ignition"
	runtimeConfigDir = "/run/ignition"
	kernelCmdline    = "/proc/cmdline"
	bootIDFile       = "/proc/sys/kernel/random/boot_id"

	// Shadow-utils, run with --root on the target.
	useraddCmd  = "useradd"
	usermodCmd  = "usermod"
	userdelCmd  = "userdel"
	groupaddCmd = "groupadd"
	groupmodCmd = "groupmod"
	groupdelCmd = "groupdel"

	// Mounting the target's filesystems (mount and umount stages).
	mountCmd  = "mount"
	umountCmd = "umount"

	// kargsHelperCmd updates the kernel command line (kargs stage); see
	// the Kernel Arguments section of Ignition's distributor notes.
	kargsHelperCmd = "ignition-kargs-helper"

	// The disks stage's tools.
	sgdiskCmd     = "sgdisk"
	partxCmd      = "partx"
	udevadmCmd    = "udevadm"
	blkidCmd      = "blkid"
	wipefsCmd     = "wipefs"
	mdadmCmd      = "mdadm"
	cryptsetupCmd = "cryptsetup"
	clevisCmd     = "clevis"
	mkfsExt4Cmd   = "mkfs.ext4"
	mkfsXfsCmd    = "mkfs.xfs"
	mkfsBtrfsCmd  = "mkfs.btrfs"
	mkfsVfatCmd   = "mkfs.vfat"
	mkswapCmd     = "mkswap"
	zkeyCmd       = "zkey" // s390-tools: IBM Crypto Express secure keys

	// luksKeyDir keeps the LUKS keys the disks stage generated until the
	// files stage writes them to luksTargetKeyDir in the target: a host
	// path on a tmpfs, never on disk.
	luksKeyDir = "/run/ignition/luks-keys"
	// luksTargetKeyDir is where LUKS key files go in the target root
	// (/etc/luks/<name>), named by /etc/crypttab.
	luksTargetKeyDir = "/etc/luks"

	// resultFile is the provisioning report, a path in the target root.
	resultFile = "/etc/.ignition-result.json"

	// relabelFile lists the paths the files stage wrote, one per line,
	// when the target uses SELinux; a host path, kept across switch-root.
	relabelFile = "/run/systemd/relabel-extra.d/ignition.relabel"
)

// SystemConfigDir holds base.d/, base.platform.d/ and user.ign shipped with
// the image (vendor defaults; the lowest priority of the three config dirs).
func SystemConfigDir() string { return systemConfigDir }

// LocalConfigDir holds base.d/, base.platform.d/ and user.ign put there by
// the administrator or initramfs scripts (medium priority).
func LocalConfigDir() string { return localConfigDir }

// RuntimeConfigDir holds base.d/, base.platform.d/ and user.ign generated at
// boot (volatile; the highest priority).
func RuntimeConfigDir() string { return runtimeConfigDir }

// KernelCmdline is where the kernel command line is read from.
func KernelCmdline() string { return kernelCmdline }

// BootIDFile is where the current boot's ID is read from (for the
// provisioning report).
func BootIDFile() string { return bootIDFile }

// UseraddCmd is the command that creates users.
func UseraddCmd() string { return useraddCmd }

// UsermodCmd is the command that modifies users.
func UsermodCmd() string { return usermodCmd }

// UserdelCmd is the command that deletes users.
func UserdelCmd() string { return userdelCmd }

// GroupaddCmd is the command that creates groups.
func GroupaddCmd() string { return groupaddCmd }

// GroupmodCmd is the command that modifies groups.
func GroupmodCmd() string { return groupmodCmd }

// GroupdelCmd is the command that deletes groups.
func GroupdelCmd() string { return groupdelCmd }

// MountCmd is the command that mounts the config's filesystems.
func MountCmd() string { return mountCmd }

// UmountCmd is the command that unmounts them again.
func UmountCmd() string { return umountCmd }

// KargsHelperCmd is the distribution's helper that adds and removes kernel
// arguments (--should-exist ARG / --should-not-exist ARG) and reboots if
// it must.
func KargsHelperCmd() string { return kargsHelperCmd }

// ResultFile is where the files stage writes its provisioning report,
// as a path inside the target root.
func ResultFile() string { return resultFile }

// RelabelFile is where the files stage lists the paths it wrote, for
// SELinux relabeling after the policy is loaded: a host path (not in the
// target root) in systemd's relabel-extra.d, which PID 1 reads after the
// switch to the real root.
func RelabelFile() string { return relabelFile }

// SgdiskCmd writes GPT partition tables.
func SgdiskCmd() string { return sgdiskCmd }

// PartxCmd tells the kernel about changed partitions.
func PartxCmd() string { return partxCmd }

// UdevadmCmd waits for udev (settle) where udev runs.
func UdevadmCmd() string { return udevadmCmd }

// BlkidCmd reads what a device holds (filesystem type, label, UUID) and
// finds devices by tag.
func BlkidCmd() string { return blkidCmd }

// WipefsCmd erases filesystem and RAID signatures.
func WipefsCmd() string { return wipefsCmd }

// MdadmCmd creates md RAID arrays.
func MdadmCmd() string { return mdadmCmd }

// CryptsetupCmd creates and opens LUKS2 volumes.
func CryptsetupCmd() string { return cryptsetupCmd }

// ClevisCmd binds LUKS volumes to Tang, TPM2 or custom pins.
func ClevisCmd() string { return clevisCmd }

// MkfsExt4Cmd, MkfsXfsCmd, MkfsBtrfsCmd, MkfsVfatCmd and MkswapCmd create
// filesystems (and swap).
func MkfsExt4Cmd() string { return mkfsExt4Cmd }

// MkfsXfsCmd creates xfs filesystems.
func MkfsXfsCmd() string { return mkfsXfsCmd }

// MkfsBtrfsCmd creates btrfs filesystems.
func MkfsBtrfsCmd() string { return mkfsBtrfsCmd }

// MkfsVfatCmd creates vfat filesystems.
func MkfsVfatCmd() string { return mkfsVfatCmd }

// MkswapCmd creates swap areas.
func MkswapCmd() string { return mkswapCmd }

// LuksKeyDir is the host directory (a tmpfs) where the disks stage keeps
// the LUKS keys it generated, for the files stage.
func LuksKeyDir() string { return luksKeyDir }

// LuksTargetKeyDir is the directory in the target root for LUKS key
// files named by /etc/crypttab.
func LuksTargetKeyDir() string { return luksTargetKeyDir }

// ZkeyCmd generates IBM Crypto Express secure keys for cex LUKS volumes
// (s390x only).
func ZkeyCmd() string { return zkeyCmd }
