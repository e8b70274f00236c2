package support

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/cetest"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
)

// SinkFault is how a [Sink] answers one delivery.
type SinkFault int

const (
	SinkAccept        SinkFault = iota // 202
	Sink500                            // 500
	SinkSlow                           // no answer until the client gives up; not processed
	SinkSlowProcessed                  // processed at once, answered only after the client gave up
	SinkReset                          // connection reset without an answer
	SinkKill                           // calls Sink.Kill (say, SIGKILL the remediator); no answer
)

func (f SinkFault) String() string {
	return [...]string{"accept", "500", "slow", "slow-processed", "reset", "kill"}[f]
}

// SinkAttempt is one delivery the sink saw.
type SinkAttempt struct {
	At    time.Time
	ID    string
	Fault SinkFault
}

// Sink is a CloudEvents sink (structured mode) under the test's control:
// the n-th delivery is answered by faults[n], every later one by then.
type Sink struct {
	// Kill is called for a SinkKill answer; true: the answer is withheld
	// until the client is gone.
	Kill func() bool

	faults []SinkFault
	then   SinkFault
	mu     sync.Mutex
	seen   []SinkAttempt
	events []map[string]any // processed: answered 202, or processed then answered too late
	srv    *httptest.Server
	tb     testing.TB
}

// NewSink starts a sink that closes when the test ends; NewSink(tb,
// SinkAccept) accepts every event.
func NewSink(tb testing.TB, then SinkFault, faults ...SinkFault) *Sink {
	tb.Helper()
	s := &Sink{faults: faults, then: then, tb: tb}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

// URL is where to send events.
func (s *Sink) URL() string { return s.srv.URL }

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	// Every event the remediator sends must match its published schema.
	if err := cetest.ValidateStructured(body); err != nil {
		s.tb.Errorf("sink: %v", err)
	}
	var ev map[string]any
	_ = json.Unmarshal(body, &ev)
	id, _ := ev["id"].(string)
	s.mu.Lock()
	f := s.then
	if n := len(s.seen); n < len(s.faults) {
		f = s.faults[n]
	}
	s.seen = append(s.seen, SinkAttempt{At: time.Now(), ID: id, Fault: f})
	if f == SinkAccept || f == SinkSlowProcessed {
		s.events = append(s.events, ev)
	}
	s.mu.Unlock()
	switch f {
	case SinkAccept:
		w.WriteHeader(http.StatusAccepted)
	case Sink500:
		http.Error(w, "injected", http.StatusInternalServerError)
	case SinkSlow, SinkSlowProcessed:
		UntilClientGone(r) // the client's attempt timeout ends it
		w.WriteHeader(http.StatusAccepted)
	case SinkReset:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			if tcp, ok := conn.(interface{ SetLinger(int) error }); ok {
				_ = tcp.SetLinger(0) // RST, not FIN
			}
			_ = conn.Close()
		}
	case SinkKill:
		if s.Kill != nil && s.Kill() {
			UntilClientGone(r)
		}
	}
}

// Attempts are the deliveries seen so far.
func (s *Sink) Attempts() []SinkAttempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

// Processed are the events the sink took in (a later answer may have been
// lost), as JSON objects.
func (s *Sink) Processed() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Data is the data of each processed event.
func (s *Sink) Data(tb testing.TB) []notify.Data {
	tb.Helper()
	var out []notify.Data
	for _, ev := range s.Processed() {
		raw, err := json.Marshal(ev["data"])
		if err != nil {
			tb.Fatal(err)
		}
		var d notify.Data
		if err := json.Unmarshal(raw, &d); err != nil {
			tb.Fatalf("event %v: data is not notify.Data: %v", ev["id"], err)
		}
		out = append(out, d)
	}
	return out
}

// One returns the one processed event's data; it fails the test otherwise.
func (s *Sink) One(tb testing.TB) notify.Data {
	tb.Helper()
	d := s.Data(tb)
	if len(d) != 1 {
		tb.Fatalf("the sink received %d CloudEvents, want 1", len(d))
	}
	return d[0]
}

// UntilClientGone blocks until the client of r hung up, or 30 s passed (a
// safety net: the test then fails on its assertions).
func UntilClientGone(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
}
