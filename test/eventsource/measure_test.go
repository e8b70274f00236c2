package eventsource

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/podcache"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// buildPodcache builds test/cmd/podcache into dir.
func buildPodcache(tb testing.TB, dir string) string {
	tb.Helper()
	bin, err := support.TestCommand(dir, "podcache")
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// measure runs podcache in mode against c with admin credentials over
// every namespace (the cluster-wide EventSource), patches the sentinel in
// ns until the process has seen an UPDATE of it, and returns its report.
func measure(tb testing.TB, c *cluster.Cluster, bin, mode, ns string) podcache.Report {
	tb.Helper()
	dir := tb.TempDir()
	rss := support.NewPeakRSS(tb, dir)
	cmd := rss.Command(bin, "-mode", mode, "-eventsource", eventSourceFile, "-sentinel", ns+"/"+sentinelName)
	cmd.Env = []string{"KUBECONFIG=" + support.Kubeconfig(tb, dir, "kubeconfig", c.Config)}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	lines := make(chan []byte, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(lines)
	}()
	var line []byte
	tick := 0
	support.Eventually(tb, mode+" to see the sentinel's update", 10*time.Minute, func(ctx context.Context) (bool, error) {
		select {
		case l, ok := <-lines:
			if !ok {
				err := cmd.Wait() // then stderr is complete
				return false, fmt.Errorf("podcache ended without a report (%w): %s", err, stderr.String())
			}
			line = l
			return true, nil
		default:
		}
		tick++
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"bench/tick":"%d"}}}`, tick)
		_, err := c.Kube.CoreV1().Pods(ns).Patch(ctx, sentinelName, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		return false, err
	})
	if err := cmd.Wait(); err != nil {
		tb.Fatalf("podcache: %v\n%s", err, stderr.String())
	}
	var r podcache.Report
	if err := json.Unmarshal(line, &r); err != nil {
		tb.Fatalf("podcache's report %q: %v", line, err)
	}
	r.PeakMiB = rss.MiB(tb)
	return r
}

// measureWatcher runs the shipped `remediator pods` (bin) against c with
// admin credentials over every namespace (the cluster-wide install), waits
// until its /healthz says its cache holds every workflow pod, reads its
// /metrics, stops it and returns the figures as a podcache.Report (mode
// "pods"; HeapAfterGC is the Go heap in use as the metrics report it,
// without a forced GC).
func measureWatcher(tb testing.TB, c *cluster.Cluster, bin string) podcache.Report {
	tb.Helper()
	dir := tb.TempDir()
	port, err := support.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	rss := support.NewPeakRSS(tb, dir)
	cmd := rss.Command(bin, "pods")
	cmd.Env = []string{"REMEDIATOR_KUBECONFIG=" + support.Kubeconfig(tb, dir, "kubeconfig", c.Config),
		"REMEDIATOR_PODS_ADDRESS=127.0.0.1:0", "REMEDIATOR_METRICS_ADDRESS=127.0.0.1:" + port}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	base := "http://127.0.0.1:" + port
	support.Eventually(tb, "the pod watcher's cache to be full", 10*time.Minute, func(ctx context.Context) (bool, error) {
		select {
		case err := <-exited:
			return false, fmt.Errorf("remediator pods ended (%w): %s", err, out.String())
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false, nil // not listening yet
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	r := podcache.Report{Mode: "pods", Seconds: time.Since(began).Seconds()}
	m, err := support.Scrape(context.Background(), base+"/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	value := func(name string) float64 { v, _ := m.Value(name); return v }
	r.Cached = int(value("argo_oom_remediator_pods_cached"))
	r.HeapAfterGC = uint64(value("go_memstats_heap_alloc_bytes"))
	r.RSS = uint64(value("process_resident_memory_bytes"))
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	if err := <-exited; err != nil {
		tb.Fatalf("remediator pods: %v\n%s", err, out.String())
	}
	r.PeakMiB = rss.MiB(tb)
	return r
}
