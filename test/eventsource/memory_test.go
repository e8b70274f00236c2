package eventsource

import (
	"context"
	"fmt"
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

// memoryLimit is the EventSource container's memory limit in
// eventsources/workflow-pods.yaml, in MiB.
func memoryLimit(tb testing.TB) float64 {
	tb.Helper()
	docs, err := yamldocs.ReadFile(eventSourceFile)
	if err != nil {
		tb.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(docs[0]); err != nil {
		tb.Fatal(err)
	}
	v, _, err := unstructured.NestedString(u.Object, "spec", "template", "container", "resources", "limits", "memory")
	if err != nil || v == "" {
		tb.Fatalf("%s: no memory limit (%v)", eventSourceFile, err)
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		tb.Fatal(err)
	}
	return float64(q.Value()) / (1 << 20)
}

// TestEventSourceMemory: at 1,000 workflow pods (and 200 others) on a
// control plane of its own, argo-events' resource event source on the
// shipped EventSource stays under the EventSource's memory limit and
// dispatches no event of a non-workflow pod; the lean watcher caches
// exactly the 1,000 workflow pods (the sentinel among them).
func TestEventSourceMemory(t *testing.T) {
	ctx := context.Background()
	c := cluster.Start(t)
	bin := buildPodcache(t, t.TempDir())
	nss, sentinelNS := createNamespaces(ctx, t, c, namespaces)
	const pods = 1000
	createPods(ctx, t, c, nss, 1, pods)
	limit := memoryLimit(t)

	ae := measure(t, c, bin, "argo-events", sentinelNS)
	t.Log(ae)
	if ae.Foreign != 0 {
		t.Errorf("argo-events dispatched %d events of non-workflow pods", ae.Foreign)
	}
	if ae.PeakMiB >= limit {
		t.Errorf("argo-events' resource event source peaked at %.1f MiB, over the EventSource's limit of %.0f MiB", ae.PeakMiB, limit)
	}
	lean := measure(t, c, bin, "lean", sentinelNS)
	t.Log(lean)
	if lean.Cached != pods || lean.Foreign != 0 {
		t.Errorf("lean watcher: %d pods cached, %d foreign events; want %d and 0", lean.Cached, lean.Foreign, pods)
	}
}

// BenchmarkEventSourceMemory measures argo-events' resource event source
// and the lean watcher at 1,000, 5,000 and 10,000 workflow pods (plus one
// non-workflow pod per five), growing one population, and reports the
// bytes of live heap per cached pod between the smallest and the largest
// size. EVENTSOURCE_PODS=N measures N only.
func BenchmarkEventSourceMemory(b *testing.B) {
	ctx := context.Background()
	sizes := []int{1000, 5000, 10000}
	if n := support.EnvInt(b, "EVENTSOURCE_PODS", 0); n > 0 {
		sizes = []int{n}
	}
	for i := 0; i < b.N; i++ {
		c := cluster.Start(b)
		bin := buildPodcache(b, b.TempDir())
		nss, sentinelNS := createNamespaces(ctx, b, c, namespaces)
		have := 1 // the sentinel
		first := map[string]podcache.Report{}
		var table []string
		for _, n := range sizes {
			createPods(ctx, b, c, nss, have, n)
			have = n
			for _, mode := range []string{"argo-events", "lean"} {
				r := measure(b, c, bin, mode, sentinelNS)
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
