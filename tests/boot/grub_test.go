package boot

import (
	"os/exec"
	"testing"
)

// TestGrubSnippet checks the GRUB snippet's syntax with GRUB's own parser.
// What it does at boot (the flag file's test, the variable it sets) needs
// GRUB itself and is not exercised here.
func TestGrubSnippet(t *testing.T) {
	check, err := exec.LookPath("grub-script-check")
	if err != nil {
		t.Skip("grub-script-check is not installed (package grub-common)")
	}
	out, err := exec.Command(check, "../../dracut/grub2/05_ignition.cfg").CombinedOutput()
	if err != nil {
		t.Errorf("grub-script-check dracut/grub2/05_ignition.cfg: %v\n%s", err, out)
	}
}
