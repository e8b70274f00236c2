package sweep

import (
	"context"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
)

// BenchmarkSweep runs `remediator sweep` (the real binary) over a namespace
// of 5,000 workflows of which 20 are stuck, and reports the time, the API
// requests and the peak RSS. Run it with -benchtime=1x: a second pass would
// find nothing left to fix. Target: under 10 s and 150 MiB.
func BenchmarkSweep(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	proxy := support.NewProxy(b, env.Config)
	kubeconfig := support.Kubeconfig(b, dir, "kubeconfig", proxy.Config())
	rss := support.NewPeakRSS(b, dir)
	var seconds, requests, rssMiB float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ns := env.NewNamespace(b)
		setup := time.Now()
		createWorld(ctx, b, ns, population(5000, 20))
		b.Logf("created 5,000 workflows (20 stuck) with their task results and pods in %s", time.Since(setup).Round(time.Second))
		proxy.Take()
		cmd := rss.Command(env.Binary, "sweep")
		cmd.Env = []string{"REMEDIATOR_KUBECONFIG=" + kubeconfig, "REMEDIATOR_NAMESPACE=" + ns,
			"REMEDIATOR_VERIFY_TIMEOUT=1ms", "REMEDIATOR_GRACE_PERIOD=5m", "REMEDIATOR_LOG_LEVEL=warn"}
		b.StartTimer()
		began := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(began)
		b.StopTimer()
		if err != nil {
			b.Fatalf("sweep: %v\n%s", err, out)
		}
		n := proxy.Take().Requests
		seconds += took.Seconds()
		requests += float64(n)
		rssMiB += rss.MiB(b)
	}
	n := float64(b.N)
	b.ReportMetric(seconds/n, "s/sweep")
	b.ReportMetric(requests/n, "requests/sweep")
	b.ReportMetric(rssMiB/n, "peak-RSS-MiB")
}
