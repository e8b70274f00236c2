package sweep

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sweepMemoryLimitMiB is the memory limit of the sweep CronJob's container
// (manifests/base/cronjob-sweep.yaml).
const sweepMemoryLimitMiB = 256

// scaleWorld is a cluster-wide population: workflows spread evenly over
// namespaces, stuck of them stuck (the three stuck kinds in turn), as many
// suspects that must be left alone (pod gone within the grace, wait still
// running), one in ten completed (kept out by the label selector), the rest
// running workflows whose entries are all true. Each namespace holds a run
// of consecutive workflows, so the stuck ones and the suspects are spread
// over every namespace (as the stuck workflows of many teams would be),
// not gathered in a few.
type scaleWorld struct {
	Namespaces []string
	Stuck      map[string]bool // "namespace/workflow" of the stuck ones
	Workflows  int
}

// createScaleWorld creates the namespaces and the population of
// namespaces*perNS workflows in c, concurrently.
func createScaleWorld(ctx context.Context, tb testing.TB, c *cluster.Cluster, namespaces, perNS, stuck int) scaleWorld {
	tb.Helper()
	w := scaleWorld{Stuck: map[string]bool{}, Workflows: namespaces * perNS}
	for range namespaces {
		ns, err := c.CreateNamespace(ctx, "scale")
		if err != nil {
			tb.Fatal(err)
		}
		w.Namespaces = append(w.Namespaces, ns)
	}
	stride := w.Workflows / stuck
	stuckKinds := []kind{stuckPodGone, stuckWaitKilled, stuckLegacy}
	leftAlone := []kind{decoyGoneRecently, decoyWaitRunning}
	var g errgroup.Group
	g.SetLimit(32)
	for i := range w.Workflows {
		ns, name := w.Namespaces[i/perNS], fmt.Sprintf("wf-%06d", i)
		var k kind
		switch {
		case i%stride == 0:
			k = stuckKinds[(i/stride)%len(stuckKinds)]
			w.Stuck[ns+"/"+name] = true
		case i%stride == stride/2:
			k = leftAlone[(i/stride)%len(leftAlone)]
		case i%10 == 3:
			k = decoyCompleted
		default:
			k = decoyBusy
		}
		g.Go(func() error { return createOne(ctx, c, ns, name, k) })
	}
	if err := g.Wait(); err != nil {
		tb.Fatal(err)
	}
	return w
}

// scaleRun is what one cluster-wide sweep cost.
type scaleRun struct {
	Took     time.Duration
	Requests []support.Request
	PeakMiB  float64
	Rescued  int // task results that carry the remediator's annotation
}

// byKind counts the requests by "verb resource".
func (r scaleRun) byKind() map[string]int {
	out := map[string]int{}
	for _, req := range r.Requests {
		out[req.String()]++
	}
	return out
}

func (r scaleRun) String() string {
	kinds := r.byKind()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, kinds[k]))
	}
	return fmt.Sprintf("%s, %d requests (%s), peak RSS %.1f MiB, %d rescued", r.Took.Round(time.Millisecond),
		len(r.Requests), strings.Join(parts, " "), r.PeakMiB, r.Rescued)
}

// sweepClusterWide runs `remediator sweep` (the binary as shipped) over every
// namespace of c, as the cluster-wide overlay's CronJob does, through a
// counting proxy, and checks that exactly the stuck workflows of w were
// rescued.
func sweepClusterWide(ctx context.Context, tb testing.TB, c *cluster.Cluster, w scaleWorld) scaleRun {
	tb.Helper()
	dir := tb.TempDir()
	proxy := support.NewProxy(tb, c.Config)
	kubeconfig := support.Kubeconfig(tb, dir, "kubeconfig", proxy.Config())
	rss := support.NewPeakRSS(tb, dir)
	cmd := rss.Command(env.Binary, "sweep")
	cmd.Env = []string{"REMEDIATOR_KUBECONFIG=" + kubeconfig, "REMEDIATOR_NAMESPACE=",
		"REMEDIATOR_VERIFY_TIMEOUT=1ms", "REMEDIATOR_GRACE_PERIOD=5m", "REMEDIATOR_LOG_LEVEL=warn"}
	since := time.Now()
	out, err := cmd.CombinedOutput()
	run := scaleRun{Took: time.Since(since)}
	if err != nil {
		tb.Fatalf("sweep: %v\n%s", err, out)
	}
	proxy.Settle(tb)
	run.Requests = proxy.Requests(since, nil)
	run.PeakMiB = rss.MiB(tb)

	trs, err := c.Argo.ArgoprojV1alpha1().WorkflowTaskResults("").List(ctx, metav1.ListOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, tr := range trs.Items {
		if tr.Annotations[remediate.AnnotationRemediatedAt] == "" {
			continue
		}
		run.Rescued++
		if key := tr.Namespace + "/" + tr.Labels[remediate.LabelWorkflow]; !w.Stuck[key] {
			tb.Errorf("%s was not stuck but its task result was written", key)
		}
	}
	if run.Rescued != len(w.Stuck) {
		tb.Errorf("%d task results written, want exactly the %d stuck", run.Rescued, len(w.Stuck))
	}
	return run
}

// TestSweepClusterWideAtScale is the reduced cluster-scale sweep of `make
// test`: 2,000 workflows in 20 namespaces, 20 stuck, swept cluster-wide on a
// control plane of its own. Exactly the 20 are rescued, the workflows are
// read in pages, the suspects' task results and pods with one list each
// (40 suspect workflows: one chunk of at most 100 names over every
// namespace), each stuck node is written on what the lists showed (no read
// of its own: nothing changes meanwhile, so no write is refused), and the
// peak RSS stays under the CronJob's limit.
func TestSweepClusterWideAtScale(t *testing.T) {
	ctx := context.Background()
	c := cluster.Start(t)
	w := createScaleWorld(ctx, t, c, 20, 100, 20)
	run := sweepClusterWide(ctx, t, c, w)
	t.Log(run)
	kinds := run.byKind()
	stuck := len(w.Stuck)
	// 2,000 workflows of which 1,800 match the not-completed selector: 4
	// pages of 500; then at most one read per rescued node, the verify's
	// (REMEDIATOR_VERIFY_TIMEOUT=1ms here: it often ends before its read).
	if got := kinds["list workflows"]; got < 4 || got > 4+stuck {
		t.Errorf("%d workflow list requests, want 4 pages of 500 and at most 1 per stuck node", got)
	}
	for k, want := range map[string]int{
		"list workflowtaskresults": 1, "list pods": 1, // the suspects', in one chunk; no read per node
		"create events": stuck, // one Event per rescued node
	} {
		if kinds[k] != want {
			t.Errorf("%d %s, want %d (requests: %s)", kinds[k], k, want, run)
		}
	}
	if writes := kinds["patch workflowtaskresults"] + kinds["create workflowtaskresults"]; writes != stuck {
		t.Errorf("%d task result writes, want exactly %d (none refused, none repeated)", writes, stuck)
	}
	// Pages, two lists, and per stuck node its write, its Event and at most
	// one verify read.
	if budget := 4 + 2 + 3*stuck; len(run.Requests) > budget {
		t.Errorf("%d requests, want at most %d", len(run.Requests), budget)
	}
	if run.PeakMiB >= sweepMemoryLimitMiB {
		t.Errorf("peak RSS %.1f MiB, not under the CronJob's %d MiB limit", run.PeakMiB, sweepMemoryLimitMiB)
	}
}

// BenchmarkSweepClusterScale runs one cluster-wide sweep over 50,000
// workflows in 200 namespaces, 500 stuck (SWEEP_SCALE_WORKFLOWS and
// SWEEP_SCALE_NAMESPACES change the size), on a control plane of its own,
// and reports the time, the API requests and the peak RSS. Target: under
// 30 s and 150 MiB. Creating the population takes minutes.
func BenchmarkSweepClusterScale(b *testing.B) {
	ctx := context.Background()
	c := cluster.Start(b)
	namespaces, workflows, stuck := support.EnvInt(b, "SWEEP_SCALE_NAMESPACES", 200),
		support.EnvInt(b, "SWEEP_SCALE_WORKFLOWS", 50000), support.EnvInt(b, "SWEEP_SCALE_STUCK", 500)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		setup := time.Now()
		w := createScaleWorld(ctx, b, c, namespaces, workflows/namespaces, stuck)
		b.Logf("created %d workflows in %d namespaces (%d stuck) in %s", w.Workflows, namespaces, stuck,
			time.Since(setup).Round(time.Second))
		b.StartTimer()
		run := sweepClusterWide(ctx, b, c, w)
		b.StopTimer()
		b.Log(run)
		b.ReportMetric(run.Took.Seconds(), "s/sweep")
		b.ReportMetric(float64(len(run.Requests)), "requests/sweep")
		b.ReportMetric(run.PeakMiB, "peak-RSS-MiB")
	}
}
