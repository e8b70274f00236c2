package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
)

func result() remediate.Result {
	code, zero := int32(137), int32(137)
	nodeDone := time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)
	return remediate.Result{
		Target: remediate.Target{Namespace: "team-a", Workflow: "etl-nightly", NodeID: "etl-nightly-331",
			PodName: "etl-nightly-main-331", PodUID: "uid-1", Trigger: "OOMKilled"},
		Outcome: remediate.OutcomeRemediated, Action: "complete", Reason: "wait-terminated",
		WorkflowUID: "wf-uid", NodeName: "etl-nightly", NodePhase: "Error", NodeMessage: "OOMKilled (exit code 137)",
		PodUID: "uid-1",
		Containers: []remediate.Container{
			{Name: "wait", ExitCode: &zero, Reason: "Error"},
			{Name: "main", ExitCode: &code, Reason: "OOMKilled", MemoryLimit: "64Mi"},
		},
		Waited: 1500 * time.Millisecond, NodeFinished: nodeDone,
		WorkflowPhase: "Failed", WorkflowFinished: nodeDone.Add(12 * time.Second),
	}
}

var meta = Meta{Cluster: "prod-eu", UIBase: "https://argo.example.com/", DryRun: false}

func TestBuild(t *testing.T) {
	now := time.Date(2026, 11, 27, 1, 0, 13, 0, time.UTC)
	ev, err := Build(result(), nil, meta, now)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type() != "io.argo-oom-remediator.remediated.v1" || ev.Source() != "urn:argo-oom-remediator:prod-eu" ||
		ev.Subject() != "team-a/etl-nightly/etl-nightly-331" || !ev.Time().Equal(now) || ev.DataContentType() != "application/json" ||
		ev.SpecVersion() != "1.0" || len(ev.ID()) != 32 {
		t.Errorf("attributes: %s", ev.String())
	}
	var d Data
	if err := json.Unmarshal(ev.Data(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Workflow != "etl-nightly" || d.Namespace != "team-a" || d.NodeID != "etl-nightly-331" || d.Pod != "etl-nightly-main-331" ||
		d.Trigger != "OOMKilled" || d.Outcome != "remediated" || d.Action != "complete" || d.Decision != "wait-terminated" ||
		d.ExitCode == nil || *d.ExitCode != 137 || d.MemoryLimit != "64Mi" || d.WaitedSeconds != 1.5 ||
		d.RecoverySeconds == nil || *d.RecoverySeconds != 12 || d.WorkflowPhase != "Failed" || d.DryRun ||
		d.UIURL != "https://argo.example.com/workflows/team-a/etl-nightly?nodeId=etl-nightly-331" || d.Cluster != "prod-eu" {
		t.Errorf("data: %s", ev.Data())
	}
}

func TestIDIsDeterministic(t *testing.T) {
	a, _ := Build(result(), nil, meta, time.Now())
	r := result()
	r.Waited, r.Previously = time.Hour, true // a re-run reports the same remediation
	b, _ := Build(r, nil, meta, time.Now().Add(time.Minute))
	if a.ID() != b.ID() {
		t.Errorf("ids differ for the same remediation: %s %s", a.ID(), b.ID())
	}
	r.Outcome = remediate.OutcomeRemediatedUnverified
	c, _ := Build(r, nil, meta, time.Now())
	dry, _ := Build(result(), nil, Meta{Cluster: "prod-eu", DryRun: true}, time.Now())
	failed, _ := Build(result(), errors.New("boom"), meta, time.Now())
	for _, other := range []string{c.ID(), dry.ID(), failed.ID()} {
		if other == a.ID() {
			t.Errorf("distinct reports share id %s", other)
		}
	}
	if failed.Type() != "io.argo-oom-remediator.failed.v1" {
		t.Errorf("failed type %s", failed.Type())
	}
}

// sink is a CloudEvents receiver that answers with the statuses given, in
// turn, then 202.
type sink struct {
	mu       sync.Mutex
	statuses []int
	got      []received
}

type received struct {
	contentType, auth string
	body              map[string]any
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	status := http.StatusAccepted
	if len(s.statuses) > 0 {
		status, s.statuses = s.statuses[0], s.statuses[1:]
	}
	if status < 300 {
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		s.got = append(s.got, received{r.Header.Get("Content-Type"), r.Header.Get("Authorization"), body})
	}
	w.WriteHeader(status)
}

func (s *sink) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func sender(t *testing.T, url, tokenFile string, retries int) Sender {
	t.Helper()
	c, err := NewHTTPClient(url, tokenFile, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return Sender{Client: c, Retries: retries, Backoff: 10 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestSendStructuredWithToken(t *testing.T) {
	s := &sink{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ev, _ := Build(result(), nil, meta, time.Now())
	if err := sender(t, srv.URL, tokenFile, 0).Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	got := s.received()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	r := got[0]
	if r.contentType != "application/cloudevents+json" || r.auth != "Bearer s3cret" {
		t.Errorf("content type %q, auth %q", r.contentType, r.auth)
	}
	data, _ := r.body["data"].(map[string]any)
	if r.body["id"] != ev.ID() || r.body["type"] != ev.Type() || r.body["subject"] != ev.Subject() || data["workflow"] != "etl-nightly" {
		t.Errorf("body %v", r.body)
	}
}

func TestSendRetriesThenDeliversOnce(t *testing.T) {
	s := &sink{statuses: []int{500, 503, 429}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	ev, _ := Build(result(), nil, meta, time.Now())
	if err := sender(t, srv.URL, "", 5).Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if got := s.received(); len(got) != 1 || got[0].body["id"] != ev.ID() {
		t.Errorf("deliveries %v", got)
	}
}

func TestSendGivesUp(t *testing.T) {
	for _, tt := range []struct {
		name     string
		statuses []int
	}{{"server errors", []int{500, 500, 500, 500}}, {"rejected", []int{400}}} {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{statuses: tt.statuses}
			srv := httptest.NewServer(s)
			defer srv.Close()
			ev, _ := Build(result(), nil, meta, time.Now())
			if err := sender(t, srv.URL, "", 2).Send(context.Background(), ev); err == nil {
				t.Fatal("no error")
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		ev, _ := Build(result(), nil, meta, time.Now())
		if err := sender(t, url, "", 2).Send(context.Background(), ev); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestTokenFileProblems(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, nil, 0o600)
	for _, f := range []string{empty, filepath.Join(t.TempDir(), "missing")} {
		if _, err := NewHTTPClient("http://127.0.0.1:1", f, time.Second); err == nil {
			t.Errorf("%s: no error", f)
		}
	}
}
