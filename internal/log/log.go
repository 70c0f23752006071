// Package log is Ignition's logger: printf-style methods for the eight syslog
// levels, written either to the systemd journal or, one line per message, to a
// writer such as stdout.
//
// The text users see is a compatibility interface (people grep boot logs for
// it), so it follows upstream Ignition's shapes:
//
//	EMERGENCY: message       the writer sink pads the level name to nine
//	CRITICAL : message       columns, then ": " and the message
//	INFO     : files: op(1): [started]  writing file "/etc/hostname"
//	INFO     : files: op(1): [finished] writing file "/etc/hostname"
//	CRITICAL : files: op(2): [failed]   writing file "/etc/motd": <error>
//
// Prefixes pushed with PushPrefix (a stage name such as "files", a sub-step)
// and one "op(N)" per running LogOp, N counting up in hexadecimal, are each
// followed by ": " and put in front of the message. In the journal the same
// text is sent without the level column, with SYSLOG_IDENTIFIER=ignition and
// the message's PRIORITY.
//
// A message that spans several lines is logged as several entries of the same
// level, each carrying the prefixes, so a multi-line report stays greppable.
package log

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/coreos/go-systemd/v22/journal"
)

// Identifier is the SYSLOG_IDENTIFIER of every journal entry, so the log can be
// read with "journalctl -t ignition".
const Identifier = "ignition"

// Priority is a syslog severity; lower is more severe.
type Priority int

// The syslog severities, with the values syslog(3) and the journal use.
const (
	PriEmerg Priority = iota
	PriAlert
	PriCrit
	PriErr
	PriWarning
	PriNotice
	PriInfo
	PriDebug
)

var priorityNames = [...]string{
	PriEmerg:   "EMERGENCY",
	PriAlert:   "ALERT",
	PriCrit:    "CRITICAL",
	PriErr:     "ERROR",
	PriWarning: "WARNING",
	PriNotice:  "NOTICE",
	PriInfo:    "INFO",
	PriDebug:   "DEBUG",
}

var journalPriorities = [...]journal.Priority{
	PriEmerg:   journal.PriEmerg,
	PriAlert:   journal.PriAlert,
	PriCrit:    journal.PriCrit,
	PriErr:     journal.PriErr,
	PriWarning: journal.PriWarning,
	PriNotice:  journal.PriNotice,
	PriInfo:    journal.PriInfo,
	PriDebug:   journal.PriDebug,
}

func (p Priority) valid() bool { return p >= PriEmerg && p <= PriDebug }

// String returns the level name used in the writer sink's lines, e.g.
// "EMERGENCY" or "WARNING".
func (p Priority) String() string {
	if !p.valid() {
		return fmt.Sprintf("Priority(%d)", int(p))
	}
	return priorityNames[p]
}

// Sink receives single log lines (never containing a newline) with their
// priority. A Logger calls its sink from one goroutine at a time.
type Sink interface {
	Log(p Priority, line string) error
	// Flush pushes out anything the sink buffers.
	Flush() error
}

// SendFunc has the signature of journal.Send from go-systemd.
type SendFunc func(message string, priority journal.Priority, vars map[string]string) error

type writerSink struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriterSink returns a sink writing "LEVEL    : line\n" to w, the level name
// left-aligned in nine columns, each line in a single Write. Flush calls w's
// Flush method if it has one (as *bufio.Writer does). The sink is safe for
// concurrent use.
func NewWriterSink(w io.Writer) Sink {
	return &writerSink{w: w}
}

func (s *writerSink) Log(p Priority, line string) error {
	b := make([]byte, 0, 11+len(line)+1)
	b = fmt.Appendf(b, "%-9s: ", p)
	b = append(b, line...)
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.w.Write(b)
	return err
}

func (s *writerSink) Flush() error {
	f, ok := s.w.(interface{ Flush() error })
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return f.Flush()
}

type journalSink struct {
	send     SendFunc
	fallback Sink

	mu       sync.Mutex
	reported bool // the first send failure has been written to fallback
}

// NewJournalSink returns a sink that sends each line to the journal with send
// (journal.Send outside tests), with SYSLOG_IDENTIFIER=ignition and PRIORITY
// set from the line's priority. A line the journal refuses is written to
// fallback instead, if fallback is not nil, preceded the first time by an
// ERROR line saying why. The sink is safe for concurrent use.
func NewJournalSink(send SendFunc, fallback Sink) Sink {
	return &journalSink{send: send, fallback: fallback}
}

func (s *journalSink) Log(p Priority, line string) error {
	if !p.valid() {
		return fmt.Errorf("log: invalid priority %d", int(p))
	}
	err := s.send(line, journalPriorities[p], map[string]string{"SYSLOG_IDENTIFIER": Identifier})
	if err == nil || s.fallback == nil {
		return err
	}
	s.mu.Lock()
	first := !s.reported
	s.reported = true
	s.mu.Unlock()
	if first {
		_ = s.fallback.Log(PriErr, "cannot log to the journal, logging here instead: "+oneLine(err.Error()))
	}
	if ferr := s.fallback.Log(p, line); ferr != nil {
		return errors.Join(err, ferr)
	}
	return nil
}

func (s *journalSink) Flush() error {
	if s.fallback == nil {
		return nil
	}
	return s.fallback.Flush()
}

// Logger writes leveled, prefixed messages to a Sink.
//
// All methods are safe for concurrent use, and the lines of one message are
// never interleaved with another's. The prefix stack belongs to the Logger
// value, though, so goroutines that push their own prefixes or run nested
// operations concurrently should each work on a Fork.
type Logger struct {
	c        *shared
	prefixes []string // guarded by c.mu
}

// shared is what a Logger and its forks have in common.
type shared struct {
	mu   sync.Mutex
	sink Sink
	ops  uint64 // operations started so far, numbering op(N)
}

// New returns the logger the Ignition binaries use.
//
// With toStdout (the -log-to-stdout flag) it writes lines to w. Otherwise it
// logs to the systemd journal, unless the journal is not available
// (journal.Enabled reports false: no systemd, a container, a test machine), in
// which case it falls back to writing to w so nothing is lost; a journal that
// later refuses a message also has that message written to w. A nil w means
// os.Stdout.
func New(toStdout bool, w io.Writer) *Logger {
	return newLogger(toStdout, w, journal.Enabled, journal.Send)
}

func newLogger(toStdout bool, w io.Writer, enabled func() bool, send SendFunc) *Logger {
	if w == nil {
		w = os.Stdout
	}
	ws := NewWriterSink(w)
	if toStdout || !enabled() {
		return NewWithSink(ws)
	}
	return NewWithSink(NewJournalSink(send, ws))
}

// NewWithSink returns a Logger writing to s.
func NewWithSink(s Sink) *Logger {
	return &Logger{c: &shared{sink: s}}
}

// Fork returns a Logger sharing l's sink, lock and operation numbering, that
// starts with a copy of l's prefixes and from then on has its own.
func (l *Logger) Fork() *Logger {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return &Logger{c: l.c, prefixes: append([]string(nil), l.prefixes...)}
}

// Close flushes the sink. The Logger remains usable: the journal connection
// is process-wide and the writer (stdout) is not closed.
func (l *Logger) Close() error {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return l.c.sink.Flush()
}

// Emerg logs a message at EMERGENCY priority.
func (l *Logger) Emerg(format string, args ...any) error {
	return l.emit(PriEmerg, fmt.Sprintf(format, args...))
}

// Alert logs a message at ALERT priority.
func (l *Logger) Alert(format string, args ...any) error {
	return l.emit(PriAlert, fmt.Sprintf(format, args...))
}

// Crit logs a message at CRITICAL priority.
func (l *Logger) Crit(format string, args ...any) error {
	return l.emit(PriCrit, fmt.Sprintf(format, args...))
}

// Err logs a message at ERROR priority.
func (l *Logger) Err(format string, args ...any) error {
	return l.emit(PriErr, fmt.Sprintf(format, args...))
}

// Warning logs a message at WARNING priority.
func (l *Logger) Warning(format string, args ...any) error {
	return l.emit(PriWarning, fmt.Sprintf(format, args...))
}

// Notice logs a message at NOTICE priority.
func (l *Logger) Notice(format string, args ...any) error {
	return l.emit(PriNotice, fmt.Sprintf(format, args...))
}

// Info logs a message at INFO priority.
func (l *Logger) Info(format string, args ...any) error {
	return l.emit(PriInfo, fmt.Sprintf(format, args...))
}

// Debug logs a message at DEBUG priority.
func (l *Logger) Debug(format string, args ...any) error {
	return l.emit(PriDebug, fmt.Sprintf(format, args...))
}

// PushPrefix adds a prefix to l's stack. Every message is preceded by each
// prefix on the stack, oldest first, each followed by ": ".
func (l *Logger) PushPrefix(format string, args ...any) {
	p := fmt.Sprintf(format, args...)
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	l.prefixes = append(l.prefixes, p)
}

// PopPrefix removes the newest prefix from l's stack. Popping an empty stack
// logs "popped from empty stack" at DEBUG priority.
func (l *Logger) PopPrefix() {
	l.c.mu.Lock()
	if n := len(l.prefixes); n > 0 {
		l.prefixes = l.prefixes[:n-1]
		l.c.mu.Unlock()
		return
	}
	l.c.mu.Unlock()
	_ = l.emit(PriDebug, "popped from empty stack")
}

// LogOp runs op as a numbered operation described by format and args. It logs
// "[started]  <description>" at INFO priority, runs op with "op(N)" pushed
// on l's prefix stack (so op's own messages and nested operations carry it),
// then logs "[finished] <description>" at INFO priority, or, if op failed,
// "[failed]   <description>: <error>" at CRITICAL priority. It returns op's
// error.
func (l *Logger) LogOp(op func() error, format string, args ...any) error {
	desc := fmt.Sprintf(format, args...)

	l.c.mu.Lock()
	l.c.ops++
	tag := fmt.Sprintf("op(%x)", l.c.ops)
	l.prefixes = append(l.prefixes, tag)
	l.c.mu.Unlock()
	defer l.removePrefix(tag)

	_ = l.emit(PriInfo, "[started]  "+desc)
	if err := op(); err != nil {
		_ = l.emit(PriCrit, fmt.Sprintf("[failed]   %s: %v", desc, err))
		return err
	}
	_ = l.emit(PriInfo, "[finished] "+desc)
	return nil
}

// removePrefix removes the newest occurrence of p, which need not be on top
// if l is (wrongly) shared by goroutines running operations concurrently.
func (l *Logger) removePrefix(p string) {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	for i := len(l.prefixes) - 1; i >= 0; i-- {
		if l.prefixes[i] == p {
			l.prefixes = append(l.prefixes[:i], l.prefixes[i+1:]...)
			return
		}
	}
}

// emit sends msg, one sink line per line of msg, each with l's prefixes. A
// single trailing newline does not make an extra empty line. It returns the
// first error the sink reported, after trying every line.
func (l *Logger) emit(p Priority, msg string) error {
	lines := strings.Split(strings.TrimSuffix(msg, "\n"), "\n")

	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	var prefix strings.Builder
	for _, pfx := range l.prefixes {
		prefix.WriteString(pfx)
		prefix.WriteString(": ")
	}
	var first error
	for _, line := range lines {
		err := l.c.sink.Log(p, prefix.String()+strings.TrimSuffix(line, "\r"))
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

func oneLine(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r", ""), "\n", " ")
}

// Discard returns a Logger that drops everything: the default of stages
// and libraries whose caller passed no logger.
func Discard() *Logger { return NewWithSink(discardSink{}) }

type discardSink struct{}

func (discardSink) Log(Priority, string) error { return nil }
func (discardSink) Flush() error               { return nil }
