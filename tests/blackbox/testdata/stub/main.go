// Command stub stands in for a host command (useradd, usermod, …) in the
// blackbox tests: it appends its argv, as one JSON array per line, to the
// file named by $IGNITION_STUB_LOG and exits 0. It changes nothing else.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	path := os.Getenv("IGNITION_STUB_LOG")
	if path == "" {
		fmt.Fprintln(os.Stderr, "stub: IGNITION_STUB_LOG is not set")
		os.Exit(2)
	}
	argv := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	line, err := json.Marshal(argv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stub:", err)
		os.Exit(2)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stub:", err)
		os.Exit(2)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		fmt.Fprintln(os.Stderr, "stub:", err)
		os.Exit(2)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "stub:", err)
		os.Exit(2)
	}
}
