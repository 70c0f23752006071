package transpile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Kind is the severity of a report entry.
type Kind int

// Severities, from least to most severe.
const (
	Info Kind = iota
	Warning
	Error
)

func (k Kind) String() string {
	switch k {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "info"
}

// MarshalText writes the severity as its name in JSON reports.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Entry is one problem, placed in the YAML source. Path is the YAML path
// ($.storage.files.0.mode); Line and Column are 1-based, 0 when unknown.
type Entry struct {
	Kind    Kind   `json:"kind"`
	Path    string `json:"path"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// Report is every entry of one translation, in the order found.
type Report struct {
	Entries []Entry
}

// IsFatal reports whether the report has an error.
func (r Report) IsFatal() bool { return r.has(Error) }

// HasWarnings reports whether the report has a warning or an error.
func (r Report) HasWarnings() bool { return r.has(Warning) || r.has(Error) }

func (r Report) has(k Kind) bool {
	for _, e := range r.Entries {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// Raw is one entry as a plain line: "error at $.path, line L col C: msg".
func (e Entry) Raw() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Path != "" {
		b.WriteString(" at " + e.Path)
	}
	if e.Line > 0 {
		if e.Path != "" {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " line %d col %d", e.Line, e.Column)
	}
	b.WriteString(": " + e.Message)
	return b.String()
}

// WriteRaw writes every entry as one Raw line.
func (r Report) WriteRaw(w io.Writer) error {
	for _, e := range r.Entries {
		if _, err := fmt.Fprintln(w, e.Raw()); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes the entries as a JSON array.
func (r Report) WriteJSON(w io.Writer) error {
	entries := r.Entries
	if entries == nil {
		entries = []Entry{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(entries)
}

// Colors says how WriteSnippets colors severities.
type Colors bool

// WriteSnippets writes each entry with the source line it points at and a
// caret under its column; src is the YAML the report is about.
func (r Report) WriteSnippets(w io.Writer, src []byte, color Colors) error {
	lines := splitLines(src)
	for _, e := range r.Entries {
		kind := e.Kind.String()
		if color {
			code := map[Kind]string{Error: "1;31", Warning: "1;33", Info: "1;36"}[e.Kind]
			kind = "\x1b[" + code + "m" + kind + "\x1b[0m"
		}
		fmt.Fprintf(w, "%s: %s\n", kind, e.Message)
		if e.Line <= 0 || e.Line > len(lines) {
			if e.Path != "" {
				fmt.Fprintf(w, "  --> %s\n", e.Path)
			}
			continue
		}
		where := fmt.Sprintf("line %d col %d", e.Line, e.Column)
		if e.Path != "" {
			where = e.Path + ", " + where
		}
		line := lines[e.Line-1]
		gutter := fmt.Sprintf("%d", e.Line)
		pad := strings.Repeat(" ", len(gutter))
		fmt.Fprintf(w, "%s--> %s\n", pad, where)
		fmt.Fprintf(w, "%s |\n%s | %s\n", pad, gutter, line)
		if _, err := fmt.Fprintf(w, "%s | %s^\n", pad, caretPad(line, e.Column)); err != nil {
			return err
		}
	}
	return nil
}

// caretPad is the white space that puts a caret under (1-based, in runes)
// column col of line; tabs are kept so that the caret lines up with them.
func caretPad(line string, col int) string {
	var b strings.Builder
	i := 1
	for _, r := range line {
		if i >= col {
			break
		}
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
		i++
	}
	for ; i < col; i++ {
		b.WriteByte(' ')
	}
	return b.String()
}

// Indent pretty-prints an Ignition config the way Butane's -p does: two
// spaces per level.
func Indent(compact []byte) ([]byte, error) {
	var b bytes.Buffer
	if err := json.Indent(&b, compact, "", "  "); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// splitLines splits src into lines the way YAML counts them: \r\n, \r, \n,
// NEL, LS and PS all end a line, so that line numbers from the parser
// index the result.
func splitLines(src []byte) []string {
	var lines []string
	s := string(src)
	start := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\r':
			lines = append(lines, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				size = 2
			}
			start = i + size
		case '\n', '\u0085', '\u2028', '\u2029':
			lines = append(lines, s[start:i])
			start = i + size
		}
		i += size
	}
	return append(lines, s[start:])
}
