// Command ignition-validate checks Ignition configs and prints a report of
// every problem, with its config path and line:column.
//
//	ignition-validate [--version] [--strict] [--format text|json] FILE|- [FILE…]
//
// It exits 1 when a config has an error (or, with --strict, a warning).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/coreos/vcontext/report"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// result is the outcome of validating one input.
type result struct {
	name   string
	report report.Report
	err    error // an error not already in the report (unreadable, empty, …)
}

func (r result) failed(strict bool) bool {
	if r.err != nil || r.report.IsFatal() {
		return true
	}
	return strict && len(r.report.Entries) > 0
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ignition-validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	showVersion := fs.Bool("version", false, "print the version and exit")
	strict := fs.Bool("strict", false, "fail on warnings too")
	format := fs.String("format", "text", "report format: text or json")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  ignition-validate [flags] FILE|- [FILE…]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage(err)
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.String("ignition-validate"))
		return 0
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "invalid --format %q: use text or json\n", *format)
		return 1
	}
	files := fs.Args()
	if len(files) == 0 {
		fs.Usage()
		return 1
	}

	results := make([]result, 0, len(files))
	for _, name := range files {
		results = append(results, validate(name, stdin))
	}

	var err error
	if *format == "json" {
		err = writeJSON(stdout, results)
	} else {
		err = writeText(stdout, stderr, results)
	}
	if err != nil {
		fmt.Fprintf(stderr, "writing report: %v\n", err)
		return 1
	}
	for _, r := range results {
		if r.failed(*strict) {
			return 1
		}
	}
	return 0
}

func exitUsage(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

func validate(name string, stdin io.Reader) result {
	var blob []byte
	var err error
	if name == "-" {
		blob, err = io.ReadAll(io.LimitReader(stdin, config.MaxSize+1))
	} else {
		blob, err = config.ReadFile(name)
	}
	if err != nil {
		return result{name: name, err: fmt.Errorf("couldn't read config: %w", err)}
	}
	_, rpt, err := config.Parse(blob)
	res := result{name: name, report: rpt}
	// Errors the report already explains need no second line.
	if err != nil && !rpt.IsFatal() {
		res.err = fmt.Errorf("couldn't parse config: %w", err)
	}
	return res
}

// writeText prints reports as the reference tool does; with several files
// each line is prefixed by its file name.
func writeText(stdout, stderr io.Writer, results []result) error {
	prefix := len(results) > 1
	for _, r := range results {
		p := ""
		if prefix {
			p = r.name + ": "
		}
		for _, e := range r.report.Entries {
			if _, err := fmt.Fprintf(stdout, "%s%s\n", p, e.String()); err != nil {
				return err
			}
		}
		if r.err != nil {
			fmt.Fprintf(stderr, "%s%v\n", p, r.err)
		}
	}
	return nil
}

// jsonEntry is one line of the JSON report.
type jsonEntry struct {
	File    string `json:"file"`
	Kind    string `json:"kind"`
	Path    string `json:"path,omitempty"`
	Line    int64  `json:"line,omitempty"`
	Column  int64  `json:"column,omitempty"`
	Message string `json:"message"`
}

func writeJSON(stdout io.Writer, results []result) error {
	out := []jsonEntry{}
	for _, r := range results {
		for _, e := range r.report.Entries {
			je := jsonEntry{File: r.name, Kind: e.Kind.String(), Message: e.Message}
			if e.Context.Len() > 0 {
				je.Path = e.Context.String()
			}
			je.Line, je.Column = e.Marker.Start()
			out = append(out, je)
		}
		if r.err != nil {
			out = append(out, jsonEntry{File: r.name, Kind: report.Error.String(), Message: r.err.Error()})
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
