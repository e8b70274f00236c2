package sweep

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/argo"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// compressAbove is the MAX_WORKFLOW_SIZE given to the controller so that an
// 8-shard fan-out is compressed: above it (the workflow's whole JSON) the
// controller moves status.nodes into status.compressedNodes, but only if
// the result fits under it (else it fails the workflow, offloading being
// off). Measured on this fan-out once played: about 6.5 kB of JSON with the
// nodes inline, 2.7 kB with them compressed; 4 kB is clear of both.
const compressAbove = 4000

// TestSweepRescuesCompressedFanOutsUnderV358 gets fan-outs stuck for real
// under the v3.5.8 controller with their status compressed (MAX_WORKFLOW_SIZE
// low): in two of three, one shard of eight is OOMKilled with wait killed
// (its pod then garbage-collected in one, kept in the other); the third is
// healthy. The sweep must read the compressed nodes, fix exactly the two
// victims' task results and nothing else, and the controller then ends the
// stuck fan-outs Failed; the healthy one stays Succeeded, untouched.
func TestSweepRescuesCompressedFanOutsUnderV358(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local cluster and a built controller")
	}
	const shards = 8
	plays := []struct {
		name      string
		victim    int // shard index; -1: none
		deletePod bool
	}{
		{"fan-oom-pod-deleted", 3, true},
		{"fan-oom-pod-kept", 5, false},
		{"fan-healthy", -1, false},
	}
	c := cluster.Start(t)
	ns := c.NewNamespace(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// DEFAULT_REQUEUE_TIME short: the controller re-reads a workflow soon
	// after each pod change instead of up to 10 s later.
	ctl, err := argo.Start(ctx, c, "v3.5.8", ns, t.TempDir(), "MAX_WORKFLOW_SIZE="+strconv.Itoa(compressAbove), "DEFAULT_REQUEUE_TIME=1s")
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Stop()
	k := kubelet.Kubelet{Kube: c.Kube, Argo: c.Argo}
	board := watchNodes(ctx, c, ns, 200*time.Millisecond)

	began := time.Now()
	var all []shard
	for _, p := range plays {
		wf, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Create(ctx, fanOut(ns, p.name, shards), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ss, err := shardsOf(ctx, c, wf, shards, 2*time.Minute, map[int]bool{p.victim: true}, p.deletePod)
		if err != nil {
			t.Fatalf("%v\n%s", err, controllerTail(ctl))
		}
		all = append(all, ss...)
	}
	// Every pod of every fan-out at once, as a node pool would run them.
	if err := playShards(ctx, k, board, all, len(all), 2*time.Minute, nil); err != nil {
		t.Fatalf("%v\n%s", err, controllerTail(ctl))
	}
	// The healthy fan-out succeeds; the stuck ones are held Running by
	// their victim's false entry.
	if err := board.until(ctx, "the healthy fan-out to succeed", 2*time.Minute, func(wfs map[string]boardEntry) (bool, string) {
		ph := wfs["fan-healthy"].wf.Status.Phase
		return ph == wfv1.WorkflowSucceeded, "fan-healthy " + string(ph)
	}); err != nil {
		t.Fatalf("%v\n%s", err, controllerTail(ctl))
	}
	t.Logf("3 fan-outs of %d shards played in %s", shards, time.Since(began).Round(100*time.Millisecond))
	victims := map[string]bool{}
	for _, s := range all {
		if s.victim {
			victims[s.nodeID] = true
		}
	}
	for _, p := range plays[:2] {
		wf, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, p.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if wf.Status.Phase != wfv1.WorkflowRunning {
			t.Fatalf("%s: %s before the sweep, want Running (held by its victim's task result)", p.name, wf.Status.Phase)
		}
		sz := assertCompressed(ctx, t, c, ns, p.name)
		t.Logf("%s: Running, status.nodes empty, status.compressedNodes %d bytes (%d nodes, %d bytes of JSON); workflow %d bytes stored, %d inline",
			p.name, sz.CompressedNodes, sz.Nodes, sz.NodesJSON, sz.Stored, sz.Inline)
	}
	healthyBefore, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, "fan-healthy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.Argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writes := watchTaskResults(t, c, ns, before.ResourceVersion)

	cfg := sweepConfig(t, ns, map[string]string{"REMEDIATOR_GRACE_PERIOD": "2s", "REMEDIATOR_VERIFY_TIMEOUT": "1m",
		"REMEDIATOR_SWEEP_CONCURRENCY": "10", "REMEDIATOR_SINK_RETRIES": "3"})
	began = time.Now()
	sweeps := sweepUntilDone(t, c, ns, cfg)
	t.Logf("2 compressed fan-outs rescued by the sweep in %s (%d sweeps)", time.Since(began).Round(100*time.Millisecond), sweeps)

	for _, p := range plays {
		wf, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, p.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := wfv1.WorkflowFailed
		if p.victim < 0 {
			want = wfv1.WorkflowSucceeded
			if wf.ResourceVersion != healthyBefore.ResourceVersion {
				t.Errorf("%s written during the sweep: resourceVersion %s → %s", p.name, healthyBefore.ResourceVersion, wf.ResourceVersion)
			}
		}
		if wf.Status.Phase != want {
			t.Errorf("%s: %s, want %s", p.name, wf.Status.Phase, want)
		}
	}
	writes.sync(ctx, t, c, ns)
	deleted := writes.check(t, before.Items, victims)
	// What the controller has not deleted yet must be as it was.
	after, err := c.Argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv := map[string]string{}
	for _, tr := range after.Items {
		rv[tr.Name] = tr.ResourceVersion
	}
	for _, tr := range before.Items {
		if now, ok := rv[tr.Name]; ok && !victims[tr.Name] && now != tr.ResourceVersion {
			t.Errorf("task result %s: resourceVersion %s → %s", tr.Name, tr.ResourceVersion, now)
		}
	}
	t.Logf("%d task results before the sweep, %d victims written, %d deleted by the controller with their completed workflow",
		len(before.Items), len(victims), deleted)
}
