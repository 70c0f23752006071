package command

import (
	"context"
	"strings"
	"testing"
)

// TestExec runs real commands: a failure names the command and carries
// what it printed; Output returns stdout only.
func TestExec(t *testing.T) {
	ctx := context.Background()
	if err := (Exec{}).Run(ctx, []string{"sh", "-c", "exit 0"}); err != nil {
		t.Fatalf("Run(exit 0) = %v", err)
	}
	err := Exec{}.Run(ctx, []string{"sh", "-c", "echo no such user >&2; exit 6"})
	if err == nil || !strings.Contains(err.Error(), "sh: exit status 6: no such user") {
		t.Fatalf("Run(exit 6) = %v", err)
	}
	out, err := Exec{}.Output(ctx, []string{"sh", "-c", "echo out; echo err >&2"})
	if err != nil || string(out) != "out\n" {
		t.Fatalf("Output = %q, %v", out, err)
	}
	_, err = Exec{}.Output(ctx, []string{"sh", "-c", "echo out; echo bad >&2; exit 2"})
	if err == nil || !strings.Contains(err.Error(), "exit status 2: bad") || strings.Contains(err.Error(), "out") {
		t.Fatalf("Output(exit 2) = %v", err)
	}
}
