// Package command is the stages' one door to host commands (mount,
// sgdisk, mkfs.*, mdadm, cryptsetup, the shadow-utils, …): every stage
// takes a Runner, so unit tests record and fake commands while the real
// binaries and the blackbox tests run them with os/exec.
package command

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs a host command.
type Runner interface {
	// Run runs argv[0] with the arguments argv[1:] and waits for it.
	Run(ctx context.Context, argv []string) error
}

// OutputRunner also returns what a command prints on stdout (sgdisk
// --pretend, blkid), for stages that read their host.
type OutputRunner interface {
	Runner
	// Output runs argv like Run and returns its standard output.
	Output(ctx context.Context, argv []string) ([]byte, error)
}

// Exec runs commands with os/exec. A failure's error names the command
// and carries what it printed, so a failed mkfs says why.
type Exec struct{}

// Run runs argv and waits for it.
func (Exec) Run(ctx context.Context, argv []string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	return wrap(argv, err, out)
}

// Output runs argv and returns its standard output; its standard error
// goes into the error when it fails.
func (Exec) Output(ctx context.Context, argv []string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	if err != nil {
		return stdout.Bytes(), wrap(argv, err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

func wrap(argv []string, err error, out []byte) error {
	if err == nil {
		return nil
	}
	if msg := strings.TrimSpace(string(out)); msg != "" {
		return fmt.Errorf("%s: %w: %s", argv[0], err, msg)
	}
	return fmt.Errorf("%s: %w", argv[0], err)
}
