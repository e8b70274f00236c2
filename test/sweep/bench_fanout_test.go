package sweep

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/argo"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultSizeShards is how many shards make the v3.5.8 controller compress
// a fan-out's status at its default MAX_WORKFLOW_SIZE (1 MiB) while every
// shard is still Running, i.e. before the OOM; BENCH_SHARDS overrides it
// (with BENCH_MAX_WORKFLOW_SIZE, passed to the controller as
// MAX_WORKFLOW_SIZE, a small fan-out is compressed too: a baseline).
const defaultSizeShards = 3500

// BenchmarkDefaultSizeCompressedFanOut is the default-size case
// under the real v3.5.8 controller: a fan-out large enough that the
// controller compresses its status at the default MAX_WORKFLOW_SIZE, one
// shard OOMKilled with wait killed while the status is compressed, the
// pods played in bulk. The remediator binary, run as its Job would be,
// rescues the victim; every other shard's task result must stay untouched.
// It reports the shard count, the sizes of compressedNodes and of the nodes'
// JSON, the time to rescue (the binary's run, the controller failing the
// workflow included) and the remediator's peak RSS. Not in `make test`:
//
//	go test -run '^$' -bench BenchmarkDefaultSizeCompressedFanOut -benchtime 1x -timeout 60m ./sweep/   (from test/)
func BenchmarkDefaultSizeCompressedFanOut(b *testing.B) {
	shards := defaultSizeShards
	if s := os.Getenv("BENCH_SHARDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("BENCH_SHARDS: %v", err)
		}
		shards = n
	}
	// Thousands of pods: minutes of controller work on 2 cores. Every wait
	// gets this long before the run is declared unable to handle the size.
	const timeout = 20 * time.Minute
	dir := b.TempDir()
	bin := env.Binary
	c := cluster.Start(b)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	kc, err := c.KubeConfig()
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		b.Fatal(err)
	}
	k := kubelet.Kubelet{Kube: c.Kube, Argo: c.Argo}
	var sz statusSizes
	var rescue, play time.Duration
	var rssMiB float64
	for range b.N {
		b.StopTimer()
		ctx, cancel := context.WithCancel(context.Background())
		b.Cleanup(cancel)
		ns := c.NewNamespace(b)
		// MAX_WORKFLOW_SIZE is left at its default: the point of the case.
		// DEFAULT_REQUEUE_TIME 1s lets the controller re-read the workflow
		// soon after the pods change; ARGO_QPS/ARGO_BURST (its --qps/--burst)
		// lift its client's 20 requests/s, which would make creating the
		// pods alone take minutes.
		env := []string{"DEFAULT_REQUEUE_TIME=1s", "ARGO_QPS=200", "ARGO_BURST=400"}
		if s := os.Getenv("BENCH_MAX_WORKFLOW_SIZE"); s != "" {
			// Only to compare: the same run on a small compressed fan-out.
			env = append(env, "MAX_WORKFLOW_SIZE="+s)
		}
		ctl, err := argo.Start(ctx, c, "v3.5.8", ns, b.TempDir(), env...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(ctl.Stop)
		board := watchNodes(ctx, c, ns, time.Second)
		began := time.Now()
		wf, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Create(ctx, fanOut(ns, "fan", shards), metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		victimIdx := shards / 2
		all, err := shardsOf(ctx, c, wf, shards, timeout, map[int]bool{victimIdx: true}, false)
		if err != nil {
			b.Fatalf("%v\n%s", err, controllerTail(ctl))
		}
		b.Logf("%d pods created by the controller in %s", shards, time.Since(began).Round(time.Second))
		var victim shard
		for _, s := range all {
			if s.victim {
				victim = s
			}
		}
		// The status must already be compressed when the victim is killed:
		// the remediator then finds the node in compressedNodes only.
		atOOM := func() error {
			sz := assertCompressed(ctx, b, c, ns, wf.Name)
			b.Logf("at the OOM (%s in): status.nodes empty, compressedNodes %d bytes = %d nodes, %d bytes of JSON; workflow %d bytes stored, %d inline",
				time.Since(began).Round(time.Second), sz.CompressedNodes, sz.Nodes, sz.NodesJSON, sz.Stored, sz.Inline)
			return nil
		}
		if err := playShards(ctx, k, board, all, 50, timeout, atOOM); err != nil {
			b.Fatalf("%v\n%s", err, controllerTail(ctl))
		}
		play = time.Since(began)
		b.Logf("%d shards played in %s (%d Succeeded, 1 OOMKilled)", shards, play.Round(time.Second), shards-1)
		// Stuck: every node completed, the workflow held Running by the
		// victim's false entry, still compressed.
		got, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, wf.Name, metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if got.Status.Phase != wfv1.WorkflowRunning || got.Status.TaskResultsCompletionStatus[victim.nodeID] {
			b.Fatalf("%s: %s with the victim's entry %v, want held Running", wf.Name, got.Status.Phase, got.Status.TaskResultsCompletionStatus[victim.nodeID])
		}
		sz = assertCompressed(ctx, b, c, ns, wf.Name)
		b.Logf("stuck: status.nodes empty, compressedNodes %d bytes = %d nodes, %d bytes of JSON; workflow %d bytes stored, %d inline",
			sz.CompressedNodes, sz.Nodes, sz.NodesJSON, sz.Stored, sz.Inline)
		before, err := c.Argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		writes := watchTaskResults(b, c, ns, before.ResourceVersion)

		rss := support.NewPeakRSS(b, b.TempDir())
		cmd := rss.Command(bin)
		cmd.Env = []string{"REMEDIATOR_KUBECONFIG=" + kubeconfig, "REMEDIATOR_NAMESPACE=" + ns,
			"REMEDIATOR_WORKFLOW=" + wf.Name, "REMEDIATOR_NODE_ID=" + victim.nodeID, "REMEDIATOR_POD_NAME=" + victim.pod.Name,
			"REMEDIATOR_POD_UID=" + string(victim.pod.UID), "REMEDIATOR_REASON=OOMKilled", "REMEDIATOR_GRACE_PERIOD=30s",
			"REMEDIATOR_VERIFY_TIMEOUT=10m", "REMEDIATOR_DEADLINE=15m"}
		b.StartTimer()
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		rescue = time.Since(t0)
		b.StopTimer()
		if err != nil {
			b.Fatalf("remediator: %v\n%s\n%s", err, out, controllerTail(ctl))
		}
		rssMiB = rss.MiB(b)
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "remediation finished") {
				b.Logf("remediator: %s", line)
			}
		}
		got, err = c.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, wf.Name, metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if got.Status.Phase != wfv1.WorkflowFailed {
			b.Fatalf("%s: %s after the rescue, want Failed\n%s", wf.Name, got.Status.Phase, out)
		}
		writes.sync(ctx, b, c, ns)
		deleted := writes.check(b, before.Items, map[string]bool{victim.nodeID: true})
		b.Logf("rescued in %s (remediator peak RSS %.1f MiB); %d task results before, only the victim's written (%s), %d deleted by the controller with the workflow",
			rescue.Round(10*time.Millisecond), rssMiB, len(before.Items), remediate.AnnotationRemediatedAt, deleted)
		cancel()
	}
	b.ReportMetric(float64(shards), "shards")
	b.ReportMetric(float64(sz.CompressedNodes), "compressedNodes-bytes")
	b.ReportMetric(float64(sz.NodesJSON), "nodes-JSON-bytes")
	b.ReportMetric(float64(sz.Stored), "stored-workflow-bytes")
	b.ReportMetric(rescue.Seconds(), "s-to-rescue")
	b.ReportMetric(play.Seconds(), "s-to-play")
	b.ReportMetric(rssMiB, "peak-RSS-MiB")
}
