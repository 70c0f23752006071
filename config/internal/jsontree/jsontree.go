// Package jsontree parses JSON into a tree that remembers where every key and
// value starts in the source, so that a report entry found later (by a path
// such as $.storage.files.3.mode) can be placed at a line and column.
//
// It keeps byte offsets only; line and column are computed on demand by
// Lines, because a valid config never needs them.
package jsontree

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is a JSON value's type.
type Kind uint8

// The JSON value kinds.
const (
	Null Kind = iota
	Bool
	Number
	String
	Object
	Array
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "boolean"
	case Number:
		return "number"
	case String:
		return "string"
	case Object:
		return "object"
	case Array:
		return "array"
	}
	return "unknown"
}

// Node is one JSON value.
type Node struct {
	Kind    Kind
	Start   int      // byte offset of the value's first character
	Text    string   // String: the unescaped string; Number: the literal
	Bool    bool     // Bool: the value
	Members []Member // Object: members in source order (duplicates kept)
	Items   []Node   // Array: elements
}

// Member is one key of an object and its value.
type Member struct {
	Key      string
	KeyStart int // byte offset of the key's opening quote
	Value    Node
}

// Get returns the member of an object with the given key; when a key
// appears more than once the last one wins, as in encoding/json.
func (n *Node) Get(key string) *Node {
	for i := len(n.Members) - 1; i >= 0; i-- {
		if n.Members[i].Key == key {
			return &n.Members[i].Value
		}
	}
	return nil
}

// SyntaxError is malformed JSON at a byte offset.
type SyntaxError struct {
	Msg    string
	Offset int
}

func (e *SyntaxError) Error() string { return e.Msg }

// MaxDepth bounds nesting so hostile input cannot exhaust the stack.
const MaxDepth = 10000

// Parse parses exactly one JSON value (with optional surrounding white space).
func Parse(data []byte) (Node, error) {
	p := parser{data: data}
	p.skipSpace()
	n, err := p.value(0)
	if err == nil {
		p.skipSpace()
		if p.pos < len(p.data) {
			err = p.errorf("invalid character %s after top-level value", quoteChar(p.data[p.pos]))
		}
	}
	if err != nil {
		return Node{}, withStdlibMessage(data, err)
	}
	return n, nil
}

// withStdlibMessage rewords a syntax error the way encoding/json words it,
// since that wording is what users of the reference tools already see. Only
// the error path pays for the second parse.
func withStdlibMessage(data []byte, err error) error {
	var se *SyntaxError
	if !errors.As(err, &se) {
		return err
	}
	var v any
	var std *json.SyntaxError
	if e := json.Unmarshal(data, &v); errors.As(e, &std) {
		off := int(std.Offset)
		// encoding/json reports the offset after the bad byte; point at it.
		if off > 0 && off <= len(data) && std.Error() != "unexpected end of JSON input" {
			off--
		}
		return &SyntaxError{Msg: std.Error(), Offset: off}
	}
	return se
}

type parser struct {
	data []byte
	pos  int
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...), Offset: p.pos}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (Node, error) {
	if p.pos >= len(p.data) {
		return Node{}, p.errorf("unexpected end of JSON input")
	}
	start := p.pos
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		s, err := p.str()
		return Node{Kind: String, Start: start, Text: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return Node{Kind: Bool, Start: start, Bool: true}, p.literal("true")
	case c == 'f':
		return Node{Kind: Bool, Start: start}, p.literal("false")
	case c == 'n':
		return Node{Kind: Null, Start: start}, p.literal("null")
	default:
		return Node{}, p.errorf("invalid character %s looking for beginning of value", quoteChar(c))
	}
}

func (p *parser) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if p.pos >= len(p.data) {
			return p.errorf("unexpected end of JSON input")
		}
		if p.data[p.pos] != word[i] {
			return p.errorf("invalid character %s in literal %s", quoteChar(p.data[p.pos]), word)
		}
		p.pos++
	}
	return nil
}

func (p *parser) object(depth int) (Node, error) {
	n := Node{Kind: Object, Start: p.pos}
	if depth > MaxDepth {
		return n, p.errorf("exceeded max depth")
	}
	p.pos++ // {
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return n, nil
	}
	for {
		if p.pos >= len(p.data) {
			return n, p.errorf("unexpected end of JSON input")
		}
		if p.data[p.pos] != '"' {
			return n, p.errorf("invalid character %s looking for beginning of object key string", quoteChar(p.data[p.pos]))
		}
		keyStart := p.pos
		key, err := p.str()
		if err != nil {
			return n, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return n, p.errorf("unexpected end of JSON input")
		}
		if p.data[p.pos] != ':' {
			return n, p.errorf("invalid character %s after object key", quoteChar(p.data[p.pos]))
		}
		p.pos++
		p.skipSpace()
		v, err := p.value(depth)
		if err != nil {
			return n, err
		}
		n.Members = append(n.Members, Member{Key: key, KeyStart: keyStart, Value: v})
		p.skipSpace()
		if p.pos >= len(p.data) {
			return n, p.errorf("unexpected end of JSON input")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			p.skipSpace()
		case '}':
			p.pos++
			return n, nil
		default:
			return n, p.errorf("invalid character %s after object key:value pair", quoteChar(p.data[p.pos]))
		}
	}
}

func (p *parser) array(depth int) (Node, error) {
	n := Node{Kind: Array, Start: p.pos}
	if depth > MaxDepth {
		return n, p.errorf("exceeded max depth")
	}
	p.pos++ // [
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return n, nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return n, err
		}
		n.Items = append(n.Items, v)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return n, p.errorf("unexpected end of JSON input")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			p.skipSpace()
		case ']':
			p.pos++
			return n, nil
		default:
			return n, p.errorf("invalid character %s after array element", quoteChar(p.data[p.pos]))
		}
	}
}

func (p *parser) number() (Node, error) {
	start := p.pos
	d := p.data
	if d[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		s := p.pos
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
		return p.pos - s
	}
	if p.pos < len(d) && d[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return Node{}, p.badNumber("in numeric literal")
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return Node{}, p.badNumber("after decimal point in numeric literal")
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return Node{}, p.badNumber("in exponent of numeric literal")
		}
	}
	return Node{Kind: Number, Start: start, Text: string(d[start:p.pos])}, nil
}

func (p *parser) badNumber(where string) error {
	if p.pos >= len(p.data) {
		return p.errorf("unexpected end of JSON input")
	}
	return p.errorf("invalid character %s %s", quoteChar(p.data[p.pos]), where)
}

// str reads a string starting at the opening quote. The common case, no
// escapes and valid UTF-8, is a single slice of the input.
func (p *parser) str() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	d := p.data
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			s := d[start:p.pos]
			p.pos++
			return string(s), nil
		case c == '\\':
			return p.strSlow(start)
		case c < 0x20:
			return "", p.errorf("invalid character %s in string literal", quoteChar(c))
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d[p.pos:])
			if r == utf8.RuneError && size == 1 {
				return p.strSlow(start)
			}
			p.pos += size
		default:
			p.pos++
		}
	}
	return "", p.errorf("unexpected end of JSON input")
}

// strSlow handles escapes and invalid UTF-8 (replaced by U+FFFD, as
// encoding/json does).
func (p *parser) strSlow(start int) (string, error) {
	d := p.data
	buf := make([]byte, 0, p.pos-start+16)
	buf = append(buf, d[start:p.pos]...)
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("invalid character %s in string literal", quoteChar(c))
		case c == '\\':
			p.pos++
			if p.pos >= len(d) {
				return "", p.errorf("unexpected end of JSON input")
			}
			switch e := d[p.pos]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(d[p.pos+1:])
				if !ok {
					return "", p.badHex(p.pos + 1)
				}
				p.pos += 4
				if utf16.IsSurrogate(r) {
					// A surrogate pair is two escapes; a lone half becomes U+FFFD
					// and whatever follows is parsed on its own.
					hi := r
					r = utf8.RuneError
					if rest := d[p.pos+1:]; len(rest) >= 6 && rest[0] == '\\' && rest[1] == 'u' {
						if r2, ok := hex4(rest[2:]); ok {
							if dec := utf16.DecodeRune(hi, r2); dec != utf8.RuneError {
								r = dec
								p.pos += 6
							}
						}
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", p.errorf("invalid character %s in string escape code", quoteChar(e))
			}
			p.pos++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d[p.pos:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, d[p.pos:p.pos+size]...)
			}
			p.pos += size
		default:
			buf = append(buf, c)
			p.pos++
		}
	}
	return "", p.errorf("unexpected end of JSON input")
}

// hex4 decodes the four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// badHex reports a malformed \u escape whose digits start at offset at.
func (p *parser) badHex(at int) error {
	for i := at; i < at+4; i++ {
		if i >= len(p.data) {
			p.pos = len(p.data)
			return p.errorf("unexpected end of JSON input")
		}
		if _, ok := hex4([]byte{p.data[i], '0', '0', '0'}); !ok {
			p.pos = i
			return p.errorf("invalid character %s in \\u hexadecimal character escape", quoteChar(p.data[i]))
		}
	}
	return p.errorf("invalid \\u escape")
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// Lines converts byte offsets to 1-based line and column numbers, counting
// columns in bytes as the reference tools do.
type Lines struct {
	starts []int // byte offset of each line's first byte
}

// NewLines indexes the line starts of data.
func NewLines(data []byte) *Lines {
	l := &Lines{starts: []int{0}}
	for i, c := range data {
		if c == '\n' {
			l.starts = append(l.starts, i+1)
		}
	}
	return l
}

// Position returns the line and column of a byte offset.
func (l *Lines) Position(offset int) (line, col int) {
	lo, hi := 0, len(l.starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if l.starts[mid] <= offset {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1, offset - l.starts[lo] + 1
}
