package vm

// Kernel modules: the guest gets only the modules a test asks for, with
// their dependencies, worked out on the host from the kernel's modules.dep,
// modules.softdep, modules.alias and modules.builtin, the way modprobe
// would. /init loads them with insmod in that order, so nothing in the
// guest needs to read those files; a trimmed modules.dep and modules.alias
// still go in so that a script can modprobe an included module by name.

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

type modIndex struct {
	dir      string              // /lib/modules/<version>
	deps     map[string][]string // module file (relative to dir) -> the files it needs
	byName   map[string]string   // module name (with _ for -) -> its file
	builtin  map[string]bool     // names of modules built into the kernel
	aliases  [][2]string         // pattern, module name
	softPre  map[string][]string // module name -> names or aliases to load before it
	softPost map[string][]string
}

// modLoad is one module for /init to insmod. Soft dependencies are not
// required: insmod may fail on them (crc32c_intel without the CPU feature).
type modLoad struct {
	file     string // relative to the modules dir
	required bool
}

var modIndexes sync.Map // modules dir -> *modIndexEntry

type modIndexEntry struct {
	once sync.Once
	ix   *modIndex
	err  error
}

// loadModIndex parses a modules dir's index files once per test binary.
func loadModIndex(dir string) (*modIndex, error) {
	e, _ := modIndexes.LoadOrStore(dir, &modIndexEntry{})
	entry := e.(*modIndexEntry)
	entry.once.Do(func() { entry.ix, entry.err = parseModIndex(dir) })
	return entry.ix, entry.err
}

func modName(file string) string {
	base := path.Base(file)
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if s, ok := strings.CutSuffix(base, ext); ok {
			base = s
			break
		}
	}
	return strings.ReplaceAll(base, "-", "_")
}

func parseModIndex(dir string) (*modIndex, error) {
	ix := &modIndex{
		dir:      dir,
		deps:     map[string][]string{},
		byName:   map[string]string{},
		builtin:  map[string]bool{},
		softPre:  map[string][]string{},
		softPost: map[string][]string{},
	}
	err := eachLine(filepath.Join(dir, "modules.dep"), true, func(line string) {
		file, deps, ok := strings.Cut(line, ":")
		if !ok {
			return
		}
		ix.deps[file] = strings.Fields(deps)
		ix.byName[modName(file)] = file
	})
	if err != nil {
		return nil, err
	}
	if err := eachLine(filepath.Join(dir, "modules.builtin"), false, func(line string) {
		ix.builtin[modName(line)] = true
	}); err != nil {
		return nil, err
	}
	if err := eachLine(filepath.Join(dir, "modules.alias"), false, func(line string) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "alias" {
			ix.aliases = append(ix.aliases, [2]string{f[1], strings.ReplaceAll(f[2], "-", "_")})
		}
	}); err != nil {
		return nil, err
	}
	// "softdep ext4 pre: crypto-crc32c post: foo"; names before any
	// "pre:"/"post:" count as pre.
	if err := eachLine(filepath.Join(dir, "modules.softdep"), false, func(line string) {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "softdep" {
			return
		}
		mod := strings.ReplaceAll(f[1], "-", "_")
		post := false
		for _, w := range f[2:] {
			switch w {
			case "pre:":
				post = false
			case "post:":
				post = true
			default:
				if post {
					ix.softPost[mod] = append(ix.softPost[mod], w)
				} else {
					ix.softPre[mod] = append(ix.softPre[mod], w)
				}
			}
		}
	}); err != nil {
		return nil, err
	}
	return ix, nil
}

func eachLine(file string, required bool, fn func(string)) error {
	f, err := os.Open(file)
	if err != nil {
		if !required && os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("kernel module index: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			fn(line)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("kernel module index %s: %w", file, err)
	}
	return nil
}

// lookup returns the module files a name (a module name or an alias)
// stands for; none when it is built into the kernel.
func (ix *modIndex) lookup(name string) ([]string, error) {
	norm := strings.ReplaceAll(name, "-", "_")
	if file, ok := ix.byName[norm]; ok {
		return []string{file}, nil
	}
	if ix.builtin[norm] {
		return nil, nil
	}
	var files []string
	found := false
	for _, a := range ix.aliases {
		if ok, _ := path.Match(a[0], name); !ok {
			continue
		}
		found = true
		if file, ok := ix.byName[a[1]]; ok && !slices.Contains(files, file) {
			files = append(files, file)
		}
	}
	if !found {
		return nil, fmt.Errorf("kernel module %q: not in %s (neither a module, a built-in nor an alias)", name, ix.dir)
	}
	return files, nil
}

// plan orders the modules names need, dependencies first.
func (ix *modIndex) plan(names []string) ([]modLoad, error) {
	var order []*modLoad
	seen := map[string]*modLoad{}
	var visit func(file string, required bool) error
	visit = func(file string, required bool) error {
		if l, ok := seen[file]; ok {
			if required && !l.required {
				// First met as a soft dependency, now needed for real:
				// so are its own dependencies.
				l.required = true
				for _, dep := range ix.deps[file] {
					if err := visit(dep, true); err != nil {
						return err
					}
				}
			}
			return nil
		}
		if !strings.HasSuffix(file, ".ko") {
			// The Debian kernel's are plain .ko; busybox insmod cannot
			// load compressed ones.
			return fmt.Errorf("kernel module %s is compressed; only uncompressed .ko files are supported", file)
		}
		l := &modLoad{file: file, required: required}
		seen[file] = l // before the dependencies, so cycles end
		name := modName(file)
		soft := func(names []string) error {
			for _, n := range names {
				files, err := ix.lookup(n)
				if err != nil {
					continue // a soft dependency this kernel lacks
				}
				for _, f := range files {
					if err := visit(f, false); err != nil {
						return err
					}
				}
			}
			return nil
		}
		if err := soft(ix.softPre[name]); err != nil {
			return err
		}
		for _, dep := range ix.deps[file] {
			if err := visit(dep, required); err != nil {
				return err
			}
		}
		order = append(order, l)
		return soft(ix.softPost[name])
	}
	for _, name := range names {
		files, err := ix.lookup(name)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := visit(f, true); err != nil {
				return nil, err
			}
		}
	}
	out := make([]modLoad, len(order))
	for i, l := range order {
		out[i] = *l
	}
	return out, nil
}

// indexFiles returns the modules.dep and modules.alias lines for the
// included modules only.
func (ix *modIndex) indexFiles(loads []modLoad) (dep, alias []byte) {
	included := map[string]bool{}
	var db strings.Builder
	for _, l := range loads {
		included[modName(l.file)] = true
		fmt.Fprintf(&db, "%s:", l.file)
		for _, d := range ix.deps[l.file] {
			fmt.Fprintf(&db, " %s", d)
		}
		db.WriteString("\n")
	}
	var ab strings.Builder
	for _, a := range ix.aliases {
		if included[a[1]] {
			fmt.Fprintf(&ab, "alias %s %s\n", a[0], a[1])
		}
	}
	return []byte(db.String()), []byte(ab.String())
}
