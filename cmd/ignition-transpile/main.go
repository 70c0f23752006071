// Command ignition-transpile translates a Butane-format YAML config into an
// Ignition JSON config, reporting every problem at its YAML line and column.
//
//	ignition-transpile [-o FILE] [-d DIR]... [-p] [-s] [-c] [-r] [--raw-errors]
//	                   [--color auto|always|never] [--format text|json] [-V] [FILE]
//
// It reads FILE (or stdin) and writes the Ignition config to stdout (or
// -o FILE). It exits 1 when the config has an error (or, with -s, a warning)
// and 2 on a usage error.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	flag "github.com/spf13/pflag"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/version"
	"github.com/ignition-go/ignition/transpile"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ignition-transpile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	output := fs.StringP("output", "o", "", "write the Ignition config to `FILE` instead of stdout")
	dirs := fs.StringArrayP("files-dir", "d", nil, "look for local files in `DIR` (repeatable; searched in order)")
	pretty := fs.BoolP("pretty", "p", false, "indent the output")
	strict := fs.BoolP("strict", "s", false, "fail on warnings too")
	check := fs.BoolP("check", "c", false, "check the config only; write nothing")
	raw := fs.BoolP("raw", "r", false, "write raw Ignition instead of a MachineConfig (openshift); no effect on other variants")
	rawErrors := fs.Bool("raw-errors", false, "print report entries as plain 'error at $.path, line L col C: …' lines")
	color := fs.String("color", "auto", "color the report: auto, always or never")
	format := fs.String("format", "text", "report format: text or json")
	showVersion := fs.BoolP("version", "V", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  ignition-transpile [flags] [FILE]\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.String("ignition-transpile"))
		return 0
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "invalid --format %q: use text or json\n", *format)
		return 2
	}
	useColor, err := colorMode(*color, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "expected at most one input file, got %d\n", fs.NArg())
		return 2
	}

	name := "-"
	if fs.NArg() == 1 {
		name = fs.Arg(0)
	}
	var src []byte
	if name == "-" {
		src, err = config.ReadFrom(stdin)
	} else {
		src, err = config.ReadFile(name)
	}
	if err != nil {
		fmt.Fprintf(stderr, "reading config: %v\n", err)
		return 1
	}

	res, err := transpile.Translate(src, transpile.Options{FilesDirs: *dirs, Raw: *raw})
	var werr error
	switch {
	case *format == "json":
		werr = res.Report.WriteJSON(stderr)
	case *rawErrors:
		werr = res.Report.WriteRaw(stderr)
	default:
		werr = res.Report.WriteSnippets(stderr, src, transpile.Colors(useColor))
	}
	if werr != nil {
		fmt.Fprintf(stderr, "writing the report: %v\n", werr)
	}
	if err != nil {
		return 1
	}
	if *strict && res.Report.HasWarnings() {
		fmt.Fprintln(stderr, "config has warnings and --strict is set")
		return 1
	}
	if *check {
		return 0
	}

	out := res.JSON
	switch {
	case res.MachineConfig != nil:
		// A MachineConfig is YAML: -p has nothing to indent.
		out = bytes.TrimSuffix(res.MachineConfig, []byte("\n"))
	case *pretty:
		if out, err = transpile.Indent(res.JSON); err != nil {
			fmt.Fprintf(stderr, "indenting the output: %v\n", err)
			return 1
		}
	}
	out = append(out, '\n')
	if *output == "" {
		_, err = stdout.Write(out)
	} else {
		err = os.WriteFile(*output, out, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "writing the Ignition config: %v\n", err)
		return 1
	}
	return 0
}

// colorMode decides whether to color the report: auto colors only when
// stderr is a terminal and NO_COLOR is unset.
func colorMode(mode string, stderr io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		f, ok := stderr.(*os.File)
		if !ok || os.Getenv("NO_COLOR") != "" {
			return false, nil
		}
		info, err := f.Stat()
		return err == nil && info.Mode()&os.ModeCharDevice != 0, nil
	}
	return false, fmt.Errorf("invalid --color %q: use auto, always or never", mode)
}
