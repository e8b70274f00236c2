package integration

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/cluster"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/client-go/rest"
)

// countingProxy forwards plain-HTTP loopback requests to the API server
// with the admin credentials, counting them, the response body bytes it
// hands to the client (what the client reads from the API server, watch
// streams included) and noting the first request. onRequest, when not nil,
// sees every request as it arrives.
type countingProxy struct {
	mu        sync.Mutex
	n         int
	first     time.Time
	bytes     int64
	inflight  sync.WaitGroup
	onRequest func(*http.Request)
	srv       *httptest.Server
}

func newCountingProxy(tb testing.TB) *countingProxy {
	tb.Helper()
	return newObservingProxy(tb, nil)
}

// newObservingProxy is a countingProxy that shows onRequest every request.
func newObservingProxy(tb testing.TB, onRequest func(*http.Request)) *countingProxy {
	tb.Helper()
	rp, err := cluster.ReverseProxy(env.Config)
	if err != nil {
		tb.Fatal(err)
	}
	p := &countingProxy{onRequest: onRequest}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.inflight.Add(1)
		defer p.inflight.Done()
		p.mu.Lock()
		if p.n == 0 {
			p.first = time.Now()
		}
		p.n++
		if os.Getenv("BENCH_LOG_REQUESTS") != "" {
			println(r.Method, r.URL.String())
		}
		p.mu.Unlock()
		if p.onRequest != nil {
			p.onRequest(r)
		}
		rp.ServeHTTP(&countingWriter{ResponseWriter: w, p: p}, r)
	}))
	tb.Cleanup(p.srv.Close)
	return p
}

// countingWriter adds what is written through it to the proxy's bytes.
// Unwrap lets the reverse proxy flush watch events through it at once.
type countingWriter struct {
	http.ResponseWriter
	p *countingProxy
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.p.mu.Lock()
	w.p.bytes += int64(n)
	w.p.mu.Unlock()
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// proxyCounts is what the proxy counted since the last reset.
type proxyCounts struct {
	requests int
	first    time.Time
	bytes    int64
}

// take returns the counts and starts counting again from zero.
func (p *countingProxy) take() proxyCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := proxyCounts{p.n, p.first, p.bytes}
	p.n, p.first, p.bytes = 0, time.Time{}, 0
	return c
}

func (p *countingProxy) reset() (int, time.Time) {
	c := p.take()
	return c.requests, c.first
}

// settle waits until no request is being served: once the client has
// exited, its watches end as the proxy sees their connections close, and
// only then are the byte counts final. Call it only when no client is
// left to start a request.
func (p *countingProxy) settle(tb testing.TB) {
	tb.Helper()
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		tb.Fatal("the proxy still serves requests 30 s after its client ended")
	}
}

// BenchmarkRemediatorProcess runs the real remediator binary, as a Job
// would, on a node whose pod is already gone, and reports the API requests
// it makes, the time from process start to its first request, and its peak
// RSS. Targets: ≤ 8 requests, < 100 ms to first request, < 40 MiB.
func BenchmarkRemediatorProcess(b *testing.B) {
	dir := b.TempDir()
	bin := cluster.BuildRemediator(b, dir)
	proxy := newCountingProxy(b)
	kubeconfig := proxyKubeconfig(b, dir, proxy)
	rss := newPeakRSS(b, dir)

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
		cmd := rss.command(bin)
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
		rssMiB += rss.mib(b)
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
	bin := cluster.BuildRemediator(b, dir)
	proxy := newCountingProxy(b)
	kubeconfig := proxyKubeconfig(b, dir, proxy)
	rss := newPeakRSS(b, dir)
	var seconds, requests, rssMiB float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ns := env.NewNamespace(b)
		setup := time.Now()
		createWorld(ctx, b, ns, population(5000, 20))
		b.Logf("created 5,000 workflows (20 stuck) with their task results and pods in %s", time.Since(setup).Round(time.Second))
		proxy.reset()
		cmd := rss.command(bin, "sweep")
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
		rssMiB += rss.mib(b)
	}
	n := float64(b.N)
	b.ReportMetric(seconds/n, "s/sweep")
	b.ReportMetric(requests/n, "requests/sweep")
	b.ReportMetric(rssMiB/n, "peak-RSS-MiB")
}

// peakRSSHelper is a program of a few MiB that runs its arguments (after
// the first) as a child and writes the child's peak RSS (KiB) to the file
// named by the first. The child's Maxrss cannot be taken from a wait of the
// test process itself: Linux carries the pre-exec address space's high-water
// mark into the exec'd program's, and os/exec clones the test process (its
// memory: hundreds of MiB after building large workflows) to start the
// child, so the figure would be the test binary's. Started from this small
// helper, the child's figure is its own (with a floor of the helper's
// ~2.4 MiB).
const peakRSSHelper = `package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(125)
	}
	kib := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	if err := os.WriteFile(os.Args[1], []byte(fmt.Sprint(kib)), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(125)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
`

// peakRSS runs programs through peakRSSHelper, built once into a directory.
type peakRSS struct{ helper, out string }

func newPeakRSS(tb testing.TB, dir string) *peakRSS {
	tb.Helper()
	src := filepath.Join(dir, "peakrss-src")
	if err := os.MkdirAll(src, 0o700); err != nil {
		tb.Fatal(err)
	}
	for name, content := range map[string]string{"main.go": peakRSSHelper, "go.mod": "module peakrss\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	p := &peakRSS{helper: filepath.Join(dir, "peakrss"), out: filepath.Join(dir, "peakrss.out")}
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", p.helper, ".")
	build.Dir, build.Env = src, append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("building the peak-RSS helper: %v\n%s", err, out)
	}
	return p
}

// command runs bin with args through the helper.
func (p *peakRSS) command(bin string, args ...string) *exec.Cmd {
	_ = os.Remove(p.out)
	return exec.Command(p.helper, append([]string{p.out, bin}, args...)...)
}

// mib is the peak RSS of the last command's child, in MiB.
func (p *peakRSS) mib(tb testing.TB) float64 {
	tb.Helper()
	data, err := os.ReadFile(p.out)
	if err != nil {
		tb.Fatalf("the peak-RSS helper left no figure: %v", err)
	}
	kib, err := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
	if err != nil {
		tb.Fatal(err)
	}
	return kib / 1024
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
