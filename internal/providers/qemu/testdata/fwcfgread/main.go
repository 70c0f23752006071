// Command fwcfgread times reading a fw_cfg sysfs file two ways, for
// TestFwCfgInVM: with qemu.ReadLarge, and 4 KiB at a time with a fresh
// open and a seek to the offset for each chunk (each such read makes the
// kernel skip to the offset within the entry again). The second way stops
// after -limit and reports how far it got.
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ignition-go/ignition/internal/providers/qemu"
)

func main() {
	limit := flag.Duration("limit", time.Minute, "stop the chunked read after this long")
	flag.Parse()
	path := flag.Arg(0)

	start := time.Now()
	raw, err := qemu.ReadLarge(path)
	if err != nil {
		fmt.Println("ReadLarge:", err)
		os.Exit(1)
	}
	fmt.Printf("FWCFG-LARGE bytes=%d ns=%d sha256=%x\n", len(raw), time.Since(start).Nanoseconds(), sha256.Sum256(raw))

	start = time.Now()
	var n int64
	buf := make([]byte, 4096)
	for time.Since(start) < *limit {
		f, err := os.Open(path)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		if _, err := f.Seek(n, io.SeekStart); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		m, err := io.ReadFull(f, buf)
		f.Close()
		n += int64(m)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
	}
	fmt.Printf("FWCFG-CHUNKED bytes=%d ns=%d\n", n, time.Since(start).Nanoseconds())
}
