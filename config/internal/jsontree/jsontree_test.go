package jsontree

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// toAny converts a tree to the value encoding/json would produce, with
// numbers kept as their literal text (json.Number) so both sides compare exactly.
func toAny(n *Node) any {
	switch n.Kind {
	case Null:
		return nil
	case Bool:
		return n.Bool
	case Number:
		return n.Text
	case String:
		return n.Text
	case Array:
		out := make([]any, len(n.Items))
		for i := range n.Items {
			out[i] = toAny(&n.Items[i])
		}
		return out
	case Object:
		out := map[string]any{}
		for i := range n.Members {
			out[n.Members[i].Key] = toAny(&n.Members[i].Value)
		}
		return out
	}
	panic("bad kind")
}

func stdAny(v any) any {
	switch x := v.(type) {
	case json.Number:
		return string(x)
	case []any:
		for i := range x {
			x[i] = stdAny(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = stdAny(x[k])
		}
	}
	return v
}

// checkAgainstStdlib asserts that Parse accepts exactly what encoding/json
// accepts, and yields the same values.
func checkAgainstStdlib(t *testing.T, in []byte) {
	t.Helper()
	n, err := Parse(in)
	var stdErr error
	if !json.Valid(in) {
		stdErr = json.Unmarshal(in, new(any))
	}
	var want any
	if stdErr == nil {
		dec := json.NewDecoder(strings.NewReader(string(in)))
		dec.UseNumber()
		if e := dec.Decode(&want); e != nil {
			t.Fatal(e)
		}
	}
	if (err == nil) != (stdErr == nil) {
		t.Fatalf("input %q: Parse error %v, encoding/json error %v", in, err, stdErr)
	}
	if err != nil {
		if err.Error() != stdErr.Error() {
			t.Errorf("input %q: message %q, encoding/json says %q", in, err.Error(), stdErr.Error())
		}
		return
	}
	if got := toAny(&n); !reflect.DeepEqual(got, stdAny(want)) {
		t.Fatalf("input %q: got %#v, want %#v", in, got, want)
	}
}

var corpus = []string{
	``, ` `, `{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e+10`, `-12.25E-3`,
	`"a"`, `"\u00e9\n\t\"\\\/"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`, `"\udc00\ud83d"`,
	"\"\xff\xfe\"", "\"a\x01\"", `{"a":1,"a":2}`, `{"a":[1,2,{"b":null}]}`,
	`{"a":1,}`, `[1,]`, `{"a" 1}`, `{1:2}`, `01`, `1.`, `.5`, `-`, `1e`, `tru`, `nul`, `[`, `{`,
	`{"a"`, `{"a":`, `"abc`, `"\x"`, `"\u12"`, `"\u12g4"`, `{} x`, `[] []`, `  {"ignition": {"version": "3.4.0"}}  `,
}

func TestMatchesStdlib(t *testing.T) {
	for _, in := range corpus {
		checkAgainstStdlib(t, []byte(in))
	}
}

func FuzzMatchesStdlib(f *testing.F) {
	for _, in := range corpus {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkAgainstStdlib(t, in)
	})
}

func TestOffsets(t *testing.T) {
	in := "{\n  \"a\": [1, {\"b\": \"x\"}]\n}"
	n, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a := &n.Members[0]
	if a.KeyStart != 4 || in[a.Value.Start] != '[' {
		t.Fatalf("key at %d, value at %d", a.KeyStart, a.Value.Start)
	}
	b := n.Get("a").Items[1].Get("b")
	if in[b.Start:b.Start+3] != `"x"` {
		t.Fatalf("b at %d", b.Start)
	}
	lines := NewLines([]byte(in))
	for _, tc := range []struct{ off, line, col int }{{0, 1, 1}, {4, 2, 3}, {b.Start, 2, 18}, {len(in) - 1, 3, 1}} {
		if l, c := lines.Position(tc.off); l != tc.line || c != tc.col {
			t.Errorf("offset %d: got %d:%d, want %d:%d", tc.off, l, c, tc.line, tc.col)
		}
	}
}

func TestSyntaxErrorOffset(t *testing.T) {
	in := "{\n  \"a\": x\n}"
	_, err := Parse([]byte(in))
	se, ok := err.(*SyntaxError)
	if !ok {
		t.Fatalf("got %v", err)
	}
	if in[se.Offset] != 'x' {
		t.Fatalf("offset %d points at %q", se.Offset, in[se.Offset])
	}
}

func TestDeepNesting(t *testing.T) {
	in := strings.Repeat("[", MaxDepth+5) + strings.Repeat("]", MaxDepth+5)
	if _, err := Parse([]byte(in)); err == nil {
		t.Fatal("expected an error for nesting deeper than MaxDepth")
	}
}
