package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/ignition-go/ignition/internal/version"
)

// newFlags is the flag set of one of the binary's commands: usage is its
// synopsis (printed after "Usage:", then the flags, on stderr), and every
// command has -version.
func newFlags(name, usage string, stderr io.Writer) (fset *flag.FlagSet, showVersion *bool) {
	fset = flag.NewFlagSet(name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	showVersion = fset.Bool("version", false, "print the version and exit")
	fset.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  %s\n\nFlags:\n", usage)
		fset.PrintDefaults()
	}
	return fset, showVersion
}

// parseFlags parses args; done means the command has nothing more to do
// (help or -version was asked for, or a flag was wrong), and code is its
// exit status.
func parseFlags(fset *flag.FlagSet, showVersion *bool, args []string, stdout io.Writer) (code int, done bool) {
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 1, true
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.String(fset.Name()))
		return 0, true
	}
	return 0, false
}
