package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// serviceLogs collects the JSON log lines of the Argo Events service
// processes into one file and lets the test wait for a message: readiness
// is read from the services' own log lines, as an operator would.
type serviceLogs struct {
	out *closableWriter

	mu      sync.Mutex
	seen    []logEntry
	fatal   []logEntry
	changed chan struct{}
}

type logEntry struct {
	Logger, Level, Message string
	At                     time.Time // when the test read the line
}

func newServiceLogs(path string) (*serviceLogs, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &serviceLogs{out: &closableWriter{f: f}, changed: make(chan struct{})}, nil
}

// writer returns the stdout (or stderr) of the service process name: every
// line goes to the file; a JSON line of zap's (logger, level, msg) is
// recorded, any other line is recorded as a message of name at level
// "output" (a Go panic or the command's own error).
func (l *serviceLogs) writer(name string) io.Writer { return &lineWriter{logs: l, name: name} }

// died records that the process of name ended before it was stopped.
func (l *serviceLogs) died(name string, err error) {
	l.record(logEntry{Logger: name, Level: "fatal", Message: fmt.Sprintf("the process ended: %v", err)})
}

func (l *serviceLogs) recordLine(name string, line []byte) {
	_, _ = l.out.Write(append(line, '\n'))
	var e struct {
		Logger string `json:"logger"`
		Level  string `json:"level"`
		Msg    string `json:"msg"`
	}
	if json.Unmarshal(line, &e) != nil || e.Logger == "" {
		e.Logger, e.Level, e.Msg = name, "output", string(line)
	}
	l.record(logEntry{Logger: e.Logger, Level: e.Level, Message: e.Msg})
}

func (l *serviceLogs) record(le logEntry) {
	le.At = time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, le)
	switch le.Level {
	case "dpanic", "panic", "fatal":
		l.fatal = append(l.fatal, le)
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// count returns how many messages of logger contain text, and a channel
// closed on the next message.
func (l *serviceLogs) count(logger, text string) (int, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.seen {
		if strings.HasPrefix(e.Logger, logger) && strings.Contains(e.Message, text) {
			n++
		}
	}
	return n, l.changed
}

// times returns when each message of logger containing text was read,
// in order.
func (l *serviceLogs) times(logger, text string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for _, e := range l.seen {
		if strings.HasPrefix(e.Logger, logger) && strings.Contains(e.Message, text) {
			out = append(out, e.At)
		}
	}
	return out
}

// waitFor waits until logger has logged a message containing text.
func (l *serviceLogs) waitFor(ctx context.Context, logger, text string) error {
	return l.waitCount(ctx, logger, text, 1)
}

// waitCount waits until logger has logged want messages containing text.
func (l *serviceLogs) waitCount(ctx context.Context, logger, text string, want int) error {
	for {
		n, changed := l.count(logger, text)
		if n >= want {
			return nil
		}
		if f := l.fatals(); len(f) > 0 {
			return fmt.Errorf("a service died: %v", f)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%s never logged %q: %w", logger, text, ctx.Err())
		}
	}
}

func (l *serviceLogs) fatals() []logEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logEntry(nil), l.fatal...)
}

// Close closes the file; later lines are dropped.
func (l *serviceLogs) Close() error { return l.out.Close() }

type closableWriter struct {
	mu     sync.Mutex
	f      *os.File
	closed bool
}

func (w *closableWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return len(b), nil
	}
	return w.f.Write(b)
}

func (w *closableWriter) Sync() error { return nil }

func (w *closableWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.f.Close()
}

// lineWriter splits one process's output into lines. exec copies a
// process's output from one goroutine, so it needs no lock of its own.
type lineWriter struct {
	logs *serviceLogs
	name string
	buf  []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		w.logs.recordLine(w.name, bytes.Clone(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}
