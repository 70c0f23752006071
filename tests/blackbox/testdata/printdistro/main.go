// Command printdistro prints the distro knobs, so a test can check that
// -ldflags -X retargets them.
package main

import (
	"fmt"

	"github.com/ignition-go/ignition/internal/distro"
)

func main() {
	fmt.Println(distro.SystemConfigDir())
	fmt.Println(distro.KernelCmdline())
}
