package integration

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/cluster"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/client-go/rest"
)

// countingProxy forwards plain-HTTP loopback requests to the API server
// with the admin credentials, counting them and noting the first one.
type countingProxy struct {
	mu    sync.Mutex
	n     int
	first time.Time
	srv   *httptest.Server
}

func newCountingProxy(tb testing.TB) *countingProxy {
	tb.Helper()
	rp, err := cluster.ReverseProxy(env.Config)
	if err != nil {
		tb.Fatal(err)
	}
	p := &countingProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		if p.n == 0 {
			p.first = time.Now()
		}
		p.n++
		if os.Getenv("BENCH_LOG_REQUESTS") != "" {
			println(r.Method, r.URL.String())
		}
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	tb.Cleanup(p.srv.Close)
	return p
}

func (p *countingProxy) reset() (int, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, first := p.n, p.first
	p.n, p.first = 0, time.Time{}
	return n, first
}

// BenchmarkRemediatorProcess runs the real remediator binary, as a Job
// would, on a node whose pod is already gone, and reports the API requests
// it makes, the time from process start to its first request, and its peak
// RSS. Targets: ≤ 8 requests, < 100 ms to first request, < 40 MiB.
func BenchmarkRemediatorProcess(b *testing.B) {
	dir := b.TempDir()
	bin := buildRemediator(b, dir)
	proxy := newCountingProxy(b)
	kubeconfig := proxyKubeconfig(b, dir, proxy)

	var requests, firstMs, rssMiB, wallMs float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := newScenario(b, wfv1.NodeRunning, boolp(false))
		s.initializeOutput()
		if err := s.k.Delete(context.Background(), s.ns, s.pod.Name); err != nil {
			b.Fatal(err)
		}
		s.markNode(wfv1.NodeError, "pod deleted")
		proxy.reset()
		cmd := exec.Command(bin)
		cmd.Env = []string{"REMEDIATOR_KUBECONFIG=" + kubeconfig, "REMEDIATOR_NAMESPACE=" + s.ns,
			"REMEDIATOR_WORKFLOW=" + s.wf.Name, "REMEDIATOR_NODE_ID=" + s.nodeID, "REMEDIATOR_POD_NAME=" + s.pod.Name,
			"REMEDIATOR_POD_UID=" + string(s.pod.UID), "REMEDIATOR_REASON=deleted", "REMEDIATOR_GRACE_PERIOD=0s",
			"REMEDIATOR_VERIFY_TIMEOUT=30s", "GODEBUG=" + os.Getenv("BENCH_GODEBUG")}
		ctx, cancel := context.WithCancel(context.Background())
		go s.standInForController(ctx)
		b.StartTimer()
		began := time.Now()
		out, err := cmd.CombinedOutput()
		wall := time.Since(began)
		b.StopTimer()
		cancel()
		if err != nil {
			b.Fatalf("remediator: %v\n%s", err, out)
		}
		if os.Getenv("BENCH_GODEBUG") != "" {
			b.Logf("%s", out)
		}
		n, first := proxy.reset()
		requests += float64(n)
		firstMs += float64(first.Sub(began).Microseconds()) / 1000
		rssMiB += float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
		wallMs += float64(wall.Microseconds()) / 1000
	}
	n := float64(b.N)
	b.ReportMetric(requests/n, "requests/op")
	b.ReportMetric(firstMs/n, "ms-to-first-request")
	b.ReportMetric(rssMiB/n, "peak-RSS-MiB")
	b.ReportMetric(wallMs/n, "ms-wall")
}

// BenchmarkSweep runs `remediator sweep` (the real binary) over a namespace
// of 5,000 workflows of which 20 are stuck, and reports the time, the API
// requests and the peak RSS. Run it with -benchtime=1x: a second pass would
// find nothing left to fix. Target: under 10 s and 150 MiB.
func BenchmarkSweep(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	bin := buildRemediator(b, dir)
	proxy := newCountingProxy(b)
	kubeconfig := proxyKubeconfig(b, dir, proxy)
	var seconds, requests, rssMiB float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ns := env.NewNamespace(b)
		setup := time.Now()
		createWorld(ctx, b, ns, population(5000, 20))
		b.Logf("created 5,000 workflows (20 stuck) with their task results and pods in %s", time.Since(setup).Round(time.Second))
		proxy.reset()
		cmd := exec.Command(bin, "sweep")
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
		n, _ := proxy.reset()
		seconds += took.Seconds()
		requests += float64(n)
		rssMiB += float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
	}
	n := float64(b.N)
	b.ReportMetric(seconds/n, "s/sweep")
	b.ReportMetric(requests/n, "requests/sweep")
	b.ReportMetric(rssMiB/n, "peak-RSS-MiB")
}

// buildRemediator builds the remediator as shipped (static, trimmed,
// stripped) into dir.
func buildRemediator(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "remediator")
	root, err := cluster.RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./remediator")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("building the remediator: %v\n%s", err, out)
	}
	return bin
}

// proxyKubeconfig writes a kubeconfig pointing at the counting proxy.
func proxyKubeconfig(tb testing.TB, dir string, proxy *countingProxy) string {
	tb.Helper()
	path := filepath.Join(dir, "kubeconfig")
	kc, err := cluster.KubeConfigFor(&rest.Config{Host: proxy.srv.URL})
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}
