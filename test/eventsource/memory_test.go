package eventsource

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/podcache"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/yamldocs"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// namespaces the pods are spread over.
const namespaces = 10

// watcherMemoryLimit is the memory limit of the pod watcher's container
// (Deployment oom-remediator-pods in manifests/base), in MiB.
func watcherMemoryLimit(tb testing.TB) float64 {
	tb.Helper()
	docs, err := yamldocs.ReadFile(watcherFile)
	if err != nil {
		tb.Fatal(err)
	}
	for _, doc := range docs {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(doc); err != nil {
			tb.Fatal(err)
		}
		if u.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			v, _, _ := unstructured.NestedString(c.(map[string]any), "resources", "limits", "memory")
			if v == "" {
				continue
			}
			q, err := resource.ParseQuantity(v)
			if err != nil {
				tb.Fatal(err)
			}
			return float64(q.Value()) / (1 << 20)
		}
	}
	tb.Fatalf("%s: no Deployment with a memory limit", watcherFile)
	return 0
}

// TestEventSourceMemory: at 1,000 workflow pods (and 200 others) on a
// control plane of its own, the shipped pod watcher (`remediator pods`, the
// Deployment oom-remediator-pods) caches exactly the 1,000 workflow pods
// and peaks under its Deployment's memory limit; podcache's lean mode (the
// same transform in a bare informer) caches the same pods and sees no
// foreign one.
func TestEventSourceMemory(t *testing.T) {
	ctx := context.Background()
	c := cluster.Start(t)
	dir := t.TempDir()
	bin := buildPodcache(t, dir)
	remediator := support.BuildRemediator(t, dir)
	nss, sentinelNS := createNamespaces(ctx, t, c, namespaces)
	const pods = 1000
	createPods(ctx, t, c, nss, 1, pods)

	w := measureWatcher(t, c, remediator)
	t.Log(w)
	if limit := watcherMemoryLimit(t); w.Cached != pods || w.PeakMiB >= limit {
		t.Errorf("remediator pods: %d pods cached, peak RSS %.1f MiB; want %d, under its limit of %.0f MiB", w.Cached, w.PeakMiB, pods, limit)
	}
	lean := measure(t, c, bin, "lean", sentinelNS)
	t.Log(lean)
	if lean.Cached != pods || lean.Foreign != 0 {
		t.Errorf("lean watcher: %d pods cached, %d foreign events; want %d and 0", lean.Cached, lean.Foreign, pods)
	}
}

// BenchmarkEventSourceMemory measures argo-events' resource event source
// (the EventSource shipped before the pod watcher), podcache's lean mode
// and the shipped pod watcher (`remediator pods`) at 1,000, 5,000 and 10,000 workflow pods (plus one
// non-workflow pod per five), growing one population, and reports the
// bytes of live heap per cached pod between the smallest and the largest
// size. EVENTSOURCE_PODS=N measures N only, EVENTSOURCE_MODES=pods,lean
// only those modes.
func BenchmarkEventSourceMemory(b *testing.B) {
	ctx := context.Background()
	sizes := []int{1000, 5000, 10000}
	if n := support.EnvInt(b, "EVENTSOURCE_PODS", 0); n > 0 {
		sizes = []int{n}
	}
	modes := []string{"argo-events", "lean", "pods"}
	if v := os.Getenv("EVENTSOURCE_MODES"); v != "" {
		modes = strings.Split(v, ",")
	}
	for i := 0; i < b.N; i++ {
		c := cluster.Start(b)
		dir := b.TempDir()
		bin := buildPodcache(b, dir)
		remediator := support.BuildRemediator(b, dir)
		nss, sentinelNS := createNamespaces(ctx, b, c, namespaces)
		have := 1 // the sentinel
		first := map[string]podcache.Report{}
		var table []string
		for _, n := range sizes {
			createPods(ctx, b, c, nss, have, n)
			have = n
			for _, mode := range modes {
				var r podcache.Report
				if mode == "pods" {
					r = measureWatcher(b, c, remediator)
				} else {
					r = measure(b, c, bin, mode, sentinelNS)
				}
				table = append(table, fmt.Sprintf("%6d pods  %s", n, r))
				b.ReportMetric(r.PeakMiB, fmt.Sprintf("%s-%d-peak-RSS-MiB", mode, n))
				b.ReportMetric(podcache.MiB(r.HeapAfterGC), fmt.Sprintf("%s-%d-heap-MiB", mode, n))
				if f, ok := first[mode]; !ok {
					first[mode] = r
				} else {
					perPod := float64(r.HeapAfterGC-f.HeapAfterGC) / float64(n-sizes[0])
					b.ReportMetric(perPod, mode+"-heap-bytes/pod")
					table = append(table, fmt.Sprintf("%s: %.0f bytes of heap per pod (%d to %d pods)", mode, perPod, sizes[0], n))
				}
			}
		}
		b.Log("\n" + strings.Join(table, "\n"))
	}
}
