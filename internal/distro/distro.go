// Package distro holds every host command path and well-known location the
// binaries use. Each is a variable so that a distribution (or a test build)
// can retarget it with
//
//	LDFLAGS='-X github.com/ignition-go/ignition/internal/distro.systemConfigDir=/etc/ignition' ./build
//
// Later stages add their commands (sgdisk, mkfs.*, mdadm, cryptsetup, …) here.
package distro

var (
	systemConfigDir  = "/usr/lib/ignition"
	localConfigDir   = "/etc/ignition"
	runtimeConfigDir = "/run/ignition"
	kernelCmdline    = "/proc/cmdline"
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
