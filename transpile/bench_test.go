package transpile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkTranspile translates the examples (one op is all of them) and a
// generated config of 5,000 files with inline contents.
func BenchmarkTranspile(b *testing.B) {
	paths, _ := filepath.Glob("../examples/*.bu")
	if len(paths) == 0 {
		b.Fatal("no examples/*.bu")
	}
	var examples [][]byte
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		examples = append(examples, src)
	}
	opts := Options{FilesDirs: []string{examplesFiles}}
	b.Run("examples", func(b *testing.B) {
		for b.Loop() {
			for _, src := range examples {
				if _, err := Translate(src, opts); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	big := manyFiles(5000)
	b.Run("5000-files", func(b *testing.B) {
		b.SetBytes(int64(len(big)))
		for b.Loop() {
			res, err := Translate(big, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if n := len(res.Config.Storage.Files); n != 5000 {
				b.Fatalf("%d files", n)
			}
		}
	})
}

// manyFiles is a config with n files, each with a mode, an owner and
// inline contents.
func manyFiles(n int) []byte {
	var s strings.Builder
	s.WriteString("variant: fcos\nversion: 1.7.0\nstorage:\n  files:\n")
	for i := range n {
		fmt.Fprintf(&s, "    - path: /var/lib/app/file-%05d.conf\n      mode: 0640\n      user: {name: core}\n"+
			"      contents:\n        inline: |\n          key-%d = value %d\n          enabled = true\n", i, i, i)
	}
	return []byte(s.String())
}
