package rescue

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// runFigures is what one run of the binary cost.
type runFigures struct {
	requests int
	toFirst  time.Duration // process start to its first API request
	rssMiB   float64       // peak RSS, the process's own
	wall     time.Duration
}

// measuredRun runs the real binary, as a Job would, on a node whose pod is
// already gone (the remediator completes it at once: grace 0), through
// proxy, with its peak RSS measured by rss.
func measuredRun(tb testing.TB, proxy *support.Proxy, rss *support.PeakRSS) runFigures {
	tb.Helper()
	s := newScenario(tb, wfv1.NodeRunning, fixtures.Bool(false))
	s.InitializeOutput()
	if err := s.K.Delete(context.Background(), s.NS, s.Pod.Name); err != nil {
		tb.Fatal(err)
	}
	s.MarkNode(wfv1.NodeError, "pod deleted")
	cmd := rss.Command(env.Binary)
	cmd.Env = s.Env(proxy.Config(), "", map[string]string{"REMEDIATOR_REASON": "deleted", "REMEDIATOR_GRACE_PERIOD": "0s",
		"REMEDIATOR_VERIFY_TIMEOUT": "30s", "GODEBUG": os.Getenv("BENCH_GODEBUG")})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.StandInForController(ctx, time.Minute)
	proxy.Take()
	began := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(began)
	if err != nil {
		tb.Fatalf("remediator: %v\n%s", err, out)
	}
	if os.Getenv("BENCH_GODEBUG") != "" {
		tb.Logf("%s", out)
	}
	c := proxy.Take()
	return runFigures{requests: c.Requests, toFirst: c.First.Sub(began), rssMiB: rss.MiB(tb), wall: wall}
}

// TestOneRunStaysInBudget holds the figures of a run that are
// deterministic: the API requests of one remediation (README: at most 8)
// and the peak RSS under the memory limit the Sensor gives the Job. Time
// is only reported (BenchmarkRemediatorProcess).
func TestOneRunStaysInBudget(t *testing.T) {
	limit := jobMemoryLimitMiB(t)
	proxy := support.NewProxy(t, env.Config)
	f := measuredRun(t, proxy, support.NewPeakRSS(t, t.TempDir()))
	t.Logf("%d requests, %.1f MiB peak RSS (Job limit %.0f MiB), first request after %s, %s in all",
		f.requests, f.rssMiB, limit, f.toFirst.Round(time.Millisecond), f.wall.Round(time.Millisecond))
	if f.requests > 8 {
		t.Errorf("%d API requests for one remediation, the budget is 8: %s", f.requests, support.Summary(proxy.Requests(time.Time{}, nil)))
	}
	if f.rssMiB >= limit {
		t.Errorf("peak RSS %.1f MiB, not under the Job's memory limit of %.0f MiB", f.rssMiB, limit)
	}
}

// jobMemoryLimitMiB reads the remediation Job's memory limit from the
// shipped Sensor.
func jobMemoryLimitMiB(t *testing.T) float64 {
	t.Helper()
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "sensors", "oom-remediation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The Job the trigger creates comes after the Sensor's own pod template
	// (which has limits of its own).
	_, job, ok := bytes.Cut(data, []byte("kind: Job"))
	m := regexp.MustCompile(`(?m)^\s+limits:\s*\n(?:\s+(?:#.*|cpu:.*)\n)*\s+memory:\s*(\S+)`).FindSubmatch(job)
	if !ok || m == nil {
		t.Fatal("no memory limit for the Job in sensors/oom-remediation.yaml")
	}
	q, err := resource.ParseQuantity(string(m[1]))
	if err != nil {
		t.Fatalf("the Job's memory limit %q: %v", m[1], err)
	}
	return float64(q.Value()) / (1 << 20)
}

// BenchmarkRemediatorProcess reports what TestOneRunStaysInBudget holds,
// and the time: API requests, time from process start to its first
// request, peak RSS. Targets: ≤ 8 requests, < 100 ms to first request,
// < 40 MiB.
func BenchmarkRemediatorProcess(b *testing.B) {
	proxy := support.NewProxy(b, env.Config)
	rss := support.NewPeakRSS(b, b.TempDir())
	var requests, firstMs, rssMiB, wallMs float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := measuredRun(b, proxy, rss)
		requests += float64(f.requests)
		firstMs += float64(f.toFirst.Microseconds()) / 1000
		rssMiB += f.rssMiB
		wallMs += float64(f.wall.Microseconds()) / 1000
	}
	n := float64(b.N)
	b.ReportMetric(requests/n, "requests/op")
	b.ReportMetric(firstMs/n, "ms-to-first-request")
	b.ReportMetric(rssMiB/n, "peak-RSS-MiB")
	b.ReportMetric(wallMs/n, "ms-wall")
}
