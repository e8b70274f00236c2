package pipeline

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// serviceLogs gives each in-process service a zap logger writing JSON lines
// to one file, and lets the test wait for a message: readiness is read from
// the services' own log lines, as an operator would.
type serviceLogs struct {
	out   *closableWriter
	level zap.AtomicLevel

	mu      sync.Mutex
	seen    []logEntry
	fatal   []logEntry
	changed chan struct{}
}

type logEntry struct{ Logger, Level, Message string }

func newServiceLogs(path string) (*serviceLogs, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &serviceLogs{out: &closableWriter{f: f}, level: zap.NewAtomicLevelAt(zapcore.InfoLevel), changed: make(chan struct{})}, nil
}

// logger returns a logger named name. A Fatal (argo-events calls Fatal on
// lost leadership or a failed start) ends the calling goroutine instead of
// the test process and is reported by fatals.
func (l *serviceLogs) logger(name string) *zap.SugaredLogger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), l.out, l.level)
	return zap.New(core, zap.Hooks(l.record), zap.WithFatalHook(zapcore.WriteThenGoexit)).Named(name).Sugar()
}

// quiet drops Info messages from now on. Called before the services are
// cancelled: on shutdown argo-events v1.9.10's JetStream sensor formats
// its subscription and connection structs into Info messages (trigger_conn.go
// pullSubscribe, listener.go's connection daemon) while another goroutine
// closes the nats.Conn inside them, a data race that -race (make test)
// reports. zap formats a message only if its level is enabled.
func (l *serviceLogs) quiet() { l.level.SetLevel(zapcore.WarnLevel) }

func (l *serviceLogs) record(e zapcore.Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	le := logEntry{Logger: e.LoggerName, Level: e.Level.String(), Message: e.Message}
	l.seen = append(l.seen, le)
	if e.Level >= zapcore.DPanicLevel {
		l.fatal = append(l.fatal, le)
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
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

// Close closes the file; later lines are dropped (some goroutines of the
// services, e.g. NATS callbacks, outlive their Start).
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
