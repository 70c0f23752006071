package log

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
)

// newBuffered returns a Logger writing to a buffer through the writer sink.
func newBuffered() (*Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return NewWithSink(NewWriterSink(&buf)), &buf
}

func lines(buf *bytes.Buffer) []string {
	s := buf.String()
	if s == "" {
		return nil
	}
	if !strings.HasSuffix(s, "\n") {
		return append(strings.Split(s, "\n"), "<missing final newline>")
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func expectLines(t *testing.T, buf *bytes.Buffer, want ...string) {
	t.Helper()
	got := lines(buf)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output lines:\n%s\nwant:\n%s", quoteAll(got), quoteAll(want))
	}
}

func quoteAll(ls []string) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "\t%q\n", l)
	}
	return b.String()
}

func TestLevelsThroughWriter(t *testing.T) {
	l, buf := newBuffered()
	for i, tc := range []struct {
		log  func(string, ...any) error
		word string
		want string
	}{
		{l.Emerg, "emerg", "EMERGENCY: n=0 emerg"},
		{l.Alert, "alert", "ALERT    : n=1 alert"},
		{l.Crit, "crit", "CRITICAL : n=2 crit"},
		{l.Err, "err", "ERROR    : n=3 err"},
		{l.Warning, "warning", "WARNING  : n=4 warning"},
		{l.Notice, "notice", "NOTICE   : n=5 notice"},
		{l.Info, "info", "INFO     : n=6 info"},
		{l.Debug, "debug", "DEBUG    : n=7 debug"},
	} {
		buf.Reset()
		if err := tc.log("n=%d %s", i, tc.word); err != nil {
			t.Fatalf("%s: %v", tc.word, err)
		}
		if got := buf.String(); got != tc.want+"\n" {
			t.Errorf("got %q, want %q", got, tc.want+"\n")
		}
	}
}

func TestPriorityString(t *testing.T) {
	want := []string{"EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"}
	for p := PriEmerg; p <= PriDebug; p++ {
		if p.String() != want[p] {
			t.Errorf("Priority(%d).String() = %q, want %q", int(p), p.String(), want[p])
		}
	}
	if got := Priority(8).String(); got != "Priority(8)" {
		t.Errorf("Priority(8).String() = %q", got)
	}
	if got := Priority(-1).String(); got != "Priority(-1)" {
		t.Errorf("Priority(-1).String() = %q", got)
	}
}

func TestFormattingIsDoneOnce(t *testing.T) {
	l, buf := newBuffered()
	l.PushPrefix("stage %s", "100%d")
	l.Info("%d%% of %q", 50, "a%sb")
	err := l.LogOp(func() error { return errors.New("bad %v in error") }, "writing %q", "/x%dy")
	if err == nil {
		t.Fatal("LogOp returned nil error")
	}
	expectLines(t, buf,
		`INFO     : stage 100%d: 50% of "a%sb"`,
		`INFO     : stage 100%d: op(1): [started]  writing "/x%dy"`,
		`CRITICAL : stage 100%d: op(1): [failed]   writing "/x%dy": bad %v in error`,
	)
}

func TestPrefixes(t *testing.T) {
	l, buf := newBuffered()
	l.Info("no prefix")
	l.PushPrefix("files")
	l.Info("one")
	l.PushPrefix("createUsers")
	l.Warning("two")
	l.PopPrefix()
	l.Info("back to one")
	l.PopPrefix()
	l.Info("none again")
	l.PopPrefix()
	l.Info("")
	expectLines(t, buf,
		"INFO     : no prefix",
		"INFO     : files: one",
		"WARNING  : files: createUsers: two",
		"INFO     : files: back to one",
		"INFO     : none again",
		"DEBUG    : popped from empty stack",
		"INFO     : ",
	)
}

func TestLogOpSuccess(t *testing.T) {
	l, buf := newBuffered()
	l.PushPrefix("files")
	ran := false
	err := l.LogOp(func() error {
		ran = true
		l.Debug("inside")
		return nil
	}, "writing file %q", "/etc/hostname")
	if err != nil {
		t.Fatalf("LogOp: %v", err)
	}
	if !ran {
		t.Fatal("op did not run")
	}
	l.Info("after")
	expectLines(t, buf,
		`INFO     : files: op(1): [started]  writing file "/etc/hostname"`,
		`DEBUG    : files: op(1): inside`,
		`INFO     : files: op(1): [finished] writing file "/etc/hostname"`,
		`INFO     : files: after`,
	)
}

func TestLogOpFailure(t *testing.T) {
	l, buf := newBuffered()
	l.PushPrefix("disks")
	boom := errors.New("boom")
	err := l.LogOp(func() error { return fmt.Errorf("creating partition: %w", boom) }, "partitioning %q", "/dev/vda")
	if !errors.Is(err, boom) {
		t.Fatalf("LogOp returned %v, want the op's error", err)
	}
	l.Info("after")
	expectLines(t, buf,
		`INFO     : disks: op(1): [started]  partitioning "/dev/vda"`,
		`CRITICAL : disks: op(1): [failed]   partitioning "/dev/vda": creating partition: boom`,
		`INFO     : disks: after`,
	)
}

func TestLogOpNestedAndNumbering(t *testing.T) {
	l, buf := newBuffered()
	l.PushPrefix("files")
	err := l.LogOp(func() error {
		return l.LogOp(func() error {
			l.Info("deep")
			return nil
		}, "inner")
	}, "outer")
	if err != nil {
		t.Fatal(err)
	}
	// Operations are numbered in hexadecimal across the Logger's lifetime.
	for i := 3; i <= 10; i++ {
		l.LogOp(func() error { return nil }, "op %d", i)
	}
	l.LogOp(func() error { return errors.New("nope") }, "op 11")
	got := lines(buf)
	want := []string{
		"INFO     : files: op(1): [started]  outer",
		"INFO     : files: op(1): op(2): [started]  inner",
		"INFO     : files: op(1): op(2): deep",
		"INFO     : files: op(1): op(2): [finished] inner",
		"INFO     : files: op(1): [finished] outer",
	}
	if len(got) < len(want) || strings.Join(got[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Fatalf("nested operations:\n%s\nwant:\n%s", quoteAll(got), quoteAll(want))
	}
	tail := got[len(got)-4:]
	wantTail := []string{
		"INFO     : files: op(a): [started]  op 10",
		"INFO     : files: op(a): [finished] op 10",
		"INFO     : files: op(b): [started]  op 11",
		"CRITICAL : files: op(b): [failed]   op 11: nope",
	}
	if strings.Join(tail, "\n") != strings.Join(wantTail, "\n") {
		t.Errorf("hex numbering:\n%s\nwant:\n%s", quoteAll(tail), quoteAll(wantTail))
	}
}

func TestLogOpPanicRestoresPrefixes(t *testing.T) {
	l, buf := newBuffered()
	l.PushPrefix("files")
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic did not propagate")
			}
		}()
		l.LogOp(func() error { panic("kaput") }, "panicking")
	}()
	buf.Reset()
	l.Info("after")
	expectLines(t, buf, "INFO     : files: after")
}

func TestMultiLine(t *testing.T) {
	l, buf := newBuffered()
	l.PushPrefix("fetch")
	l.Crit("config is invalid:\nerror at $.storage.files.0.path: must be absolute\n\r\nwarning at $.systemd: unused key\r\n")
	l.Info("single trailing newline\n")
	err := l.LogOp(func() error { return errors.New("first\nsecond") }, "validating")
	if err == nil {
		t.Fatal("LogOp returned nil")
	}
	expectLines(t, buf,
		"CRITICAL : fetch: config is invalid:",
		"CRITICAL : fetch: error at $.storage.files.0.path: must be absolute",
		"CRITICAL : fetch: ",
		"CRITICAL : fetch: warning at $.systemd: unused key",
		"INFO     : fetch: single trailing newline",
		"INFO     : fetch: op(1): [started]  validating",
		"CRITICAL : fetch: op(1): [failed]   validating: first",
		"CRITICAL : fetch: op(1): second",
	)
}

// TestConcurrent runs many goroutines logging multi-line messages and
// operations through one buffer (a bytes.Buffer, itself unsynchronized, so
// -race also catches a missing lock) and checks every line is whole and every
// message's lines are adjacent.
func TestConcurrent(t *testing.T) {
	l, buf := newBuffered()
	l.PushPrefix("files")
	const goroutines, messages = 32, 50

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			f := l.Fork()
			f.PushPrefix("g%02d", g)
			for m := range messages {
				switch m % 3 {
				case 0:
					f.Warning("msg %02d-%02d line 1\nmsg %02d-%02d line 2\nmsg %02d-%02d line 3", g, m, g, m, g, m)
				case 1:
					f.LogOp(func() error {
						f.Debug("inside %02d-%02d", g, m)
						return nil
					}, "op %02d-%02d", g, m)
				case 2:
					// Operations run on the shared Logger concurrently:
					// the numbering stays unique and the stack is restored.
					l.LogOp(func() error { return nil }, "shared %02d-%02d", g, m)
				}
			}
		})
	}
	wg.Wait()

	got := lines(buf)
	lineRE := regexp.MustCompile(`^(WARNING  |INFO     |DEBUG    ): files: (?:op\([0-9a-f]+\): )*(?:g(\d\d): (?:op\([0-9a-f]+\): )?)?(.*)$`)
	bodyRE := regexp.MustCompile(`^(?:msg (\d\d)-(\d\d) line ([123])|\[started\]  op (\d\d)-\d\d|\[finished\] op (\d\d)-\d\d|inside (\d\d)-\d\d|\[(?:started\]  |finished\] )shared \d\d-\d\d)$`)
	counts := map[string]int{}
	opTag := regexp.MustCompile(`op\(([0-9a-f]+)\)`)
	opsSeen := map[uint64]bool{}
	for i, line := range got {
		m := lineRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d mangled: %q", i, line)
		}
		b := bodyRE.FindStringSubmatch(m[3])
		if b == nil {
			t.Fatalf("line %d has a mangled body: %q", i, line)
		}
		for _, tag := range opTag.FindAllStringSubmatch(line, -1) {
			n, _ := strconv.ParseUint(tag[1], 16, 64)
			opsSeen[n] = true
		}
		switch {
		case b[1] != "": // a line of a three-line message
			if m[2] != b[1] {
				t.Fatalf("line %d carries another goroutine's prefix: %q", i, line)
			}
			if b[3] == "1" {
				if i+2 >= len(got) ||
					!strings.HasSuffix(got[i+1], fmt.Sprintf("msg %s-%s line 2", b[1], b[2])) ||
					!strings.HasSuffix(got[i+2], fmt.Sprintf("msg %s-%s line 3", b[1], b[2])) {
					t.Fatalf("lines of one message are not adjacent at line %d:\n%s", i, quoteAll(got[i:min(i+3, len(got))]))
				}
			}
			counts["msg"]++
		case b[4] != "" || b[5] != "" || b[6] != "":
			if m[2] != b[4]+b[5]+b[6] {
				t.Fatalf("line %d carries another goroutine's prefix: %q", i, line)
			}
			counts["op"]++
		default:
			counts["shared"]++
		}
	}
	perKind := goroutines * ((messages + 2) / 3) // m%3 == 0 occurs 17 times in 0..49
	if counts["msg"] != 3*perKind {
		t.Errorf("%d message lines, want %d", counts["msg"], 3*perKind)
	}
	ops := goroutines * ((messages + 1) / 3) // m%3 == 1: 17 times
	shared := goroutines * (messages / 3)    // m%3 == 2: 16 times
	if counts["op"] != 3*ops {
		t.Errorf("%d own-operation lines, want %d", counts["op"], 3*ops)
	}
	if counts["shared"] != 2*shared {
		t.Errorf("%d shared-operation lines, want %d", counts["shared"], 2*shared)
	}
	total := uint64(ops + shared)
	if uint64(len(opsSeen)) != total {
		t.Errorf("%d distinct operation numbers, want %d", len(opsSeen), total)
	}
	for n := uint64(1); n <= total; n++ {
		if !opsSeen[n] {
			t.Errorf("operation number %x never logged", n)
			break
		}
	}
	buf.Reset()
	l.Info("done")
	expectLines(t, buf, "INFO     : files: done")
}

func TestForkHasOwnPrefixes(t *testing.T) {
	l, buf := newBuffered()
	l.PushPrefix("files")
	f := l.Fork()
	f.PushPrefix("child")
	l.PushPrefix("parent")
	f.Info("from fork")
	l.Info("from parent")
	f.LogOp(func() error { return nil }, "a")
	l.LogOp(func() error { return nil }, "b")
	expectLines(t, buf,
		"INFO     : files: child: from fork",
		"INFO     : files: parent: from parent",
		"INFO     : files: child: op(1): [started]  a",
		"INFO     : files: child: op(1): [finished] a",
		"INFO     : files: parent: op(2): [started]  b",
		"INFO     : files: parent: op(2): [finished] b",
	)
}

type sent struct {
	msg  string
	pri  journal.Priority
	vars map[string]string
}

type fakeJournal struct {
	mu   sync.Mutex
	sent []sent
	err  error
}

func (j *fakeJournal) send(msg string, pri journal.Priority, vars map[string]string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	j.sent = append(j.sent, sent{msg, pri, vars})
	return nil
}

func TestJournalSink(t *testing.T) {
	j := &fakeJournal{}
	var fallback bytes.Buffer
	l := NewWithSink(NewJournalSink(j.send, NewWriterSink(&fallback)))
	l.PushPrefix("files")
	l.Emerg("emerg")
	l.Alert("alert")
	l.Crit("crit %d", 2)
	l.Err("err")
	l.Warning("warning")
	l.Notice("notice")
	l.Info("info")
	l.Debug("debug")
	l.Crit("two\nlines")

	want := []sent{
		{"files: emerg", 0, nil},
		{"files: alert", 1, nil},
		{"files: crit 2", 2, nil},
		{"files: err", 3, nil},
		{"files: warning", 4, nil},
		{"files: notice", 5, nil},
		{"files: info", 6, nil},
		{"files: debug", 7, nil},
		{"files: two", 2, nil},
		{"files: lines", 2, nil},
	}
	if len(j.sent) != len(want) {
		t.Fatalf("sent %d entries, want %d: %+v", len(j.sent), len(want), j.sent)
	}
	for i, s := range j.sent {
		if s.msg != want[i].msg || s.pri != want[i].pri {
			t.Errorf("entry %d: MESSAGE=%q PRIORITY=%d, want MESSAGE=%q PRIORITY=%d", i, s.msg, s.pri, want[i].msg, want[i].pri)
		}
		if len(s.vars) != 1 || s.vars["SYSLOG_IDENTIFIER"] != "ignition" {
			t.Errorf("entry %d: vars %v, want only SYSLOG_IDENTIFIER=ignition", i, s.vars)
		}
	}
	if fallback.Len() != 0 {
		t.Errorf("fallback written while the journal worked: %q", fallback.String())
	}
}

func TestJournalSendFailureFallsBack(t *testing.T) {
	j := &fakeJournal{err: errors.New("journal gone\nreally")}
	var fallback bytes.Buffer
	l := NewWithSink(NewJournalSink(j.send, NewWriterSink(&fallback)))
	if err := l.Warning("first"); err != nil {
		t.Errorf("Warning returned %v although the fallback took the line", err)
	}
	if err := l.Info("second"); err != nil {
		t.Errorf("Info returned %v although the fallback took the line", err)
	}
	expectLines(t, &fallback,
		"ERROR    : cannot log to the journal, logging here instead: journal gone really",
		"WARNING  : first",
		"INFO     : second",
	)

	// With nowhere else to go, the journal's error is returned.
	noFallback := NewWithSink(NewJournalSink(j.send, nil))
	if err := noFallback.Info("lost"); err == nil || !strings.Contains(err.Error(), "journal gone") {
		t.Errorf("Info without fallback returned %v, want the journal's error", err)
	}

	// Both failing: both errors come back.
	wfail := errors.New("disk full")
	both := NewWithSink(NewJournalSink(j.send, NewWriterSink(failingWriter{wfail})))
	err := both.Info("lost")
	if !errors.Is(err, wfail) || !strings.Contains(err.Error(), "journal gone") {
		t.Errorf("Info with both failing returned %v", err)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriterErrorReturned(t *testing.T) {
	wfail := errors.New("EPIPE")
	l := NewWithSink(NewWriterSink(failingWriter{wfail}))
	if err := l.Err("x\ny"); !errors.Is(err, wfail) {
		t.Errorf("Err returned %v, want %v", err, wfail)
	}
	if err := l.LogOp(func() error { return nil }, "op"); err != nil {
		t.Errorf("LogOp returned the sink's error %v; it reports only the op's", err)
	}
}

func TestInvalidPriority(t *testing.T) {
	j := &fakeJournal{}
	if err := NewJournalSink(j.send, nil).Log(Priority(8), "x"); err == nil {
		t.Error("journal sink accepted priority 8")
	}
	if len(j.sent) != 0 {
		t.Errorf("sent %+v", j.sent)
	}
}

func TestNewChoosesSink(t *testing.T) {
	noJournal := func() bool { return false }
	haveJournal := func() bool { return true }

	t.Run("journal unavailable falls back to the writer", func(t *testing.T) {
		var buf bytes.Buffer
		j := &fakeJournal{}
		l := newLogger(false, &buf, noJournal, j.send)
		l.Notice("hello")
		expectLines(t, &buf, "NOTICE   : hello")
		if len(j.sent) != 0 {
			t.Errorf("sent to the journal: %+v", j.sent)
		}
	})
	t.Run("journal available", func(t *testing.T) {
		var buf bytes.Buffer
		j := &fakeJournal{}
		l := newLogger(false, &buf, haveJournal, j.send)
		l.Notice("hello")
		if buf.Len() != 0 {
			t.Errorf("writer got %q", buf.String())
		}
		if len(j.sent) != 1 || j.sent[0].msg != "hello" || j.sent[0].pri != journal.PriNotice {
			t.Errorf("sent %+v", j.sent)
		}
	})
	t.Run("log to stdout ignores the journal", func(t *testing.T) {
		var buf bytes.Buffer
		j := &fakeJournal{}
		l := newLogger(true, &buf, haveJournal, j.send)
		l.Info("hello")
		expectLines(t, &buf, "INFO     : hello")
		if len(j.sent) != 0 {
			t.Errorf("sent to the journal: %+v", j.sent)
		}
	})
	t.Run("real New to stdout writer", func(t *testing.T) {
		var buf bytes.Buffer
		l := New(true, &buf)
		l.Err("e")
		expectLines(t, &buf, "ERROR    : e")
	})
	t.Run("real New without a journal", func(t *testing.T) {
		if journal.Enabled() {
			t.Skip("a journal is running here; the fallback is covered above")
		}
		var buf bytes.Buffer
		l := New(false, &buf)
		l.Err("e")
		expectLines(t, &buf, "ERROR    : e")
	})
}

func TestCloseFlushes(t *testing.T) {
	var buf bytes.Buffer
	bw := bufio.NewWriterSize(&buf, 4096)
	l := newLogger(false, bw, func() bool { return false }, nil)
	l.Info("buffered")
	if buf.Len() != 0 {
		t.Fatalf("written before Close: %q", buf.String())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	expectLines(t, &buf, "INFO     : buffered")

	// A journal sink flushes its fallback writer.
	buf.Reset()
	bw = bufio.NewWriterSize(&buf, 4096)
	j := &fakeJournal{err: errors.New("no journal")}
	l = NewWithSink(NewJournalSink(j.send, NewWriterSink(bw)))
	l.Info("via fallback")
	if buf.Len() != 0 {
		t.Fatalf("written before Close: %q", buf.String())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "INFO     : via fallback\n") {
		t.Errorf("after Close: %q", buf.String())
	}

	// Flush errors are reported.
	ferr := errors.New("flush failed")
	l = NewWithSink(NewWriterSink(flushFailer{ferr}))
	if err := l.Close(); !errors.Is(err, ferr) {
		t.Errorf("Close returned %v, want %v", err, ferr)
	}
}

type flushFailer struct{ err error }

func (flushFailer) Write(p []byte) (int, error) { return len(p), nil }
func (f flushFailer) Flush() error              { return f.err }

// TestSinksSharedBetweenLoggers checks the sinks serialize themselves, so
// Loggers that do not share a lock can still share a sink.
func TestSinksSharedBetweenLoggers(t *testing.T) {
	var buf bytes.Buffer
	ws := NewWriterSink(&buf)
	j := &fakeJournal{err: errors.New("down")}
	js := NewJournalSink(j.send, ws)
	const loggers, messages = 8, 100
	var wg sync.WaitGroup
	for g := range loggers {
		s := ws
		if g%2 == 1 {
			s = js
		}
		l := NewWithSink(s)
		wg.Go(func() {
			for m := range messages {
				l.Info("logger %d message %03d", g, m)
			}
		})
	}
	wg.Wait()
	got := lines(&buf)
	lineRE := regexp.MustCompile(`^INFO     : logger \d message \d\d\d$`)
	notices := 0
	for i, line := range got {
		if strings.HasPrefix(line, "ERROR    : cannot log to the journal") {
			notices++
			continue
		}
		if !lineRE.MatchString(line) {
			t.Fatalf("line %d mangled: %q", i, line)
		}
	}
	if notices != 1 {
		t.Errorf("%d journal failure notices, want 1", notices)
	}
	if len(got) != loggers*messages+1 {
		t.Errorf("%d lines, want %d", len(got), loggers*messages+1)
	}
}
