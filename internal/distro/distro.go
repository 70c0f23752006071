// Package distro holds every host command path and well-known location the
// binaries use. Each is a variable so that a distribution (or a test build)
// can retarget it with
//
//	LDFLAGS='-X github.com/ignition-go/ignition/internal/distro.systemConfigDir=/etc/ignition' ./build
//
// Later stages add their commands (sgdisk, mkfs.*, mdadm, cryptsetup, …) here.
package distro

var (
	systemConfigDir = "/usr/lib/ignition"
	kernelCmdline   = "/proc/cmdline"
)

// SystemConfigDir holds base.d/, base.platform.d/ and user.ign shipped with the image.
func SystemConfigDir() string { return systemConfigDir }

// KernelCmdline is where the kernel command line is read from.
func KernelCmdline() string { return kernelCmdline }
