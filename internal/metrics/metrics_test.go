package metrics

import (
	"bytes"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var update = flag.Bool("update", false, "rewrite docs/metrics-sample.txt")

// samplePath is the exposition sample docs/operate.md shows; the monitoring
// test (test/monitoring) checks the alerts and the dashboard query only the
// metrics it holds.
const samplePath = "../../docs/metrics-sample.txt"

// scrape reads the handler's text exposition, parsed by Prometheus's own
// parser, and returns it with the families of this package only.
func scrape(t *testing.T, m *Metrics) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("Prometheus's parser refuses the exposition: %v\n%s", err, body)
	}
	var own strings.Builder
	for _, line := range strings.SplitAfter(string(body), "\n") {
		if strings.Contains(line, Namespace+"_") {
			own.WriteString(line)
		}
	}
	return own.String(), fams
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("%s%v: no such series", name, labels)
	return 0
}

func TestExpositionParsesAndCounts(t *testing.T) {
	m := New()
	now := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
	m.SetStuck([]Stuck{
		{Namespace: "team-a", Since: now.Add(-90 * time.Second)},
		{Namespace: "team-a", Since: now.Add(-30 * time.Second)},
		{Namespace: "team-b"}, // offloaded nodes: age unknown
	}, now)
	m.Rescues.WithLabelValues("team-a", OutcomeRemediated, "OOMKilled").Inc()
	m.Rescues.WithLabelValues("team-a", OutcomeStuck, "sweep").Inc()
	m.OOMToTerminal.Observe(12)
	m.NotificationFailures.WithLabelValues("node").Inc()
	m.Sweeps.WithLabelValues("ok").Inc()
	m.LastSweep.Set(float64(now.Unix()))
	m.SweepDuration.Observe(0.2)
	m.Resubmits.WithLabelValues("team-a", "resubmitted").Add(2)
	m.Resubmits.WithLabelValues("team-a", "succeeded").Inc()

	own, fams := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"argo_oom_remediator_stuck_nodes", []string{"namespace", "team-a"}, 2},
		{"argo_oom_remediator_stuck_nodes", []string{"namespace", "team-b"}, 1},
		{"argo_oom_remediator_stuck_oldest_seconds", []string{"namespace", "team-a"}, 90},
		{"argo_oom_remediator_stuck_oldest_seconds", []string{"namespace", "team-b"}, 0},
		{"argo_oom_remediator_rescues_total", []string{"outcome", "remediated", "trigger", "OOMKilled"}, 1},
		{"argo_oom_remediator_oom_to_terminal_seconds", nil, 1},
		{"argo_oom_remediator_notification_failures_total", []string{"kind", "node"}, 1},
		{"argo_oom_remediator_notification_failures_total", []string{"kind", "sweep"}, 0},
		{"argo_oom_remediator_sweeps_total", []string{"result", "failed"}, 0},
		{"argo_oom_remediator_resubmits_total", []string{"namespace", "team-a", "outcome", "resubmitted"}, 2},
		{"argo_oom_remediator_last_sweep_success_timestamp_seconds", nil, float64(now.Unix())},
	} {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := fams["process_resident_memory_bytes"]; !ok {
		t.Error("no process metrics")
	}

	// A later sweep that finds nothing stuck drops the namespaces' series.
	m.SetStuck(nil, now)
	if _, fams = scrape(t, m); fams["argo_oom_remediator_stuck_nodes"] != nil {
		t.Errorf("stuck series left: %v", fams["argo_oom_remediator_stuck_nodes"])
	}

	if *update {
		if err := os.WriteFile(samplePath, []byte(own), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sample, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	if string(sample) != own {
		t.Errorf("%s is not what the metrics expose (go test ./internal/metrics -update):\n%s", samplePath, own)
	}
}
