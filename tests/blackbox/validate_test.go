// Package blackbox builds the real binaries and runs them as a user would.
package blackbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// build runs ./build once per test binary and returns the bin directory.
func build(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	cmd := exec.Command("./build")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("./build: %v\n%s", err, out)
	}
	return filepath.Join(root, "bin")
}

func TestValidateBinaryOnExamples(t *testing.T) {
	bin := build(t)
	root := repoRoot(t)

	// The version comes from git describe, not the unstamped default.
	out, err := exec.Command(filepath.Join(bin, "ignition-validate"), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	desc, err := exec.Command("git", "-C", root, "describe", "--dirty", "--always", "--tags").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "ignition-validate " + strings.TrimSpace(string(desc)) + "\n"; string(out) != want {
		t.Errorf("--version printed %q, want %q", out, want)
	}

	examples, _ := filepath.Glob(filepath.Join(root, "examples", "*.ign"))
	if len(examples) == 0 {
		t.Fatal("no examples")
	}
	for _, ex := range examples {
		cmd := exec.Command(filepath.Join(bin, "ignition-validate"), ex)
		out, err := cmd.CombinedOutput()
		code := cmd.ProcessState.ExitCode()
		broken := strings.HasPrefix(filepath.Base(ex), "broken")
		switch {
		case broken && code != 1:
			t.Errorf("%s: exit %d, want 1 (err %v)\n%s", ex, code, err, out)
		case broken && !strings.Contains(string(out), "error at $."):
			t.Errorf("%s: no error line in\n%s", ex, out)
		case !broken && code != 0:
			t.Errorf("%s: exit %d, want 0\n%s", ex, code, out)
		}
	}
}

func TestDistroKnobsAreSetAtLinkTime(t *testing.T) {
	root := repoRoot(t)
	exe := filepath.Join(t.TempDir(), "printdistro")
	ldflags := "-X github.com/ignition-go/ignition/internal/distro.systemConfigDir=/opt/ign " +
		"-X github.com/ignition-go/ignition/internal/distro.kernelCmdline=/run/test-cmdline"
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", exe, "./tests/blackbox/testdata/printdistro")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "/opt/ign\n/run/test-cmdline\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
