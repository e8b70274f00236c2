package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/argo"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	"github.com/argoproj/argo-workflows/v3/workflow/packer"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// Fan-outs: one DAG task expanded withSequence into n parallel shards, each
// a pod. withSequence rather than n written-out tasks keeps the spec small,
// so that what makes the workflow large is its nodes, as in production.

// fanOut is a workflow of n parallel shards.
func fanOut(ns, name string, n int) *wfv1.Workflow {
	count := intstr.FromInt(n)
	return &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: wfv1.WorkflowSpec{Entrypoint: "main", Templates: []wfv1.Template{
			{Name: "main", DAG: &wfv1.DAGTemplate{Tasks: []wfv1.DAGTask{{
				Name: "shard", Template: "shard", WithSequence: &wfv1.Sequence{Count: &count},
			}}}},
			{Name: "shard", Container: &corev1.Container{Image: "busybox", Command: []string{"true"}}},
		}},
	}
}

// shardName is the node name of shard i of workflow wf (withSequence names
// each expansion "<task>(<index>:<item>)").
func shardName(wf string, i int) string { return fmt.Sprintf("%s.shard(%d:%d)", wf, i, i) }

// shard is one pod of a fan-out and how it is played.
type shard struct {
	wf     *wfv1.Workflow
	pod    *corev1.Pod
	nodeID string
	// victim: OOMKilled with wait killed, so its task result never completes.
	victim bool
	// deletePod: the victim's pod is garbage-collected once its node failed.
	deletePod bool
}

// shardsOf waits (up to timeout) until the controller has created all n pods
// of wf and returns them, the victims (by shard index) marked.
func shardsOf(ctx context.Context, c *cluster.Cluster, wf *wfv1.Workflow, n int, timeout time.Duration, victims map[int]bool, deletePod bool) ([]shard, error) {
	var pods []corev1.Pod
	// Listing thousands of pods is itself load on the API server the
	// controller needs: poll less often the more there are.
	every := 250*time.Millisecond + time.Duration(n)*500*time.Microsecond
	err := wait.PollUntilContextTimeout(ctx, every, timeout, true, func(ctx context.Context) (bool, error) {
		l, err := c.Kube.CoreV1().Pods(wf.Namespace).List(ctx, metav1.ListOptions{LabelSelector: common.LabelKeyWorkflow + "=" + wf.Name})
		if err != nil {
			return false, err
		}
		pods = l.Items
		return len(pods) >= n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %d of %d pods created: %w", wf.Name, len(pods), n, err)
	}
	index := make(map[string]int, n)
	for i := range n {
		index[shardName(wf.Name, i)] = i
	}
	out := make([]shard, 0, n)
	for i := range pods {
		name := pods[i].Annotations[common.AnnotationKeyNodeName]
		idx, ok := index[name]
		if !ok {
			return nil, fmt.Errorf("%s: pod %s runs node %q, not a shard", wf.Name, pods[i].Name, name)
		}
		s := shard{wf: wf, pod: &pods[i], nodeID: pods[i].Annotations[common.AnnotationKeyNodeID], victim: victims[idx]}
		s.deletePod = s.victim && deletePod
		out = append(out, s)
	}
	return out, nil
}

// bulk runs do for every shard, limit at once: the kubelet and the
// executors of a real fan-out write concurrently, not one pod after another.
func bulk(ctx context.Context, shards []shard, limit int, do func(context.Context, shard) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, s := range shards {
		g.Go(func() error { return do(ctx, s) })
	}
	return g.Wait()
}

// playShards plays every shard as playWorkflow plays its one pod, but
// phase by phase across all of them: all start and their executors create
// the task results; once the controller saw every node Running, the victims
// are OOMKilled with wait killed and the others finalize and succeed; once
// every node has completed, the victims' pods marked so are deleted.
// beforeOOM, if not nil, runs between the two, when every node is Running.
func playShards(ctx context.Context, k kubelet.Kubelet, b *nodeBoard, shards []shard, limit int, timeout time.Duration, beforeOOM func() error) error {
	if err := bulk(ctx, shards, limit, func(ctx context.Context, s shard) error {
		if _, err := k.Start(ctx, s.wf.Namespace, s.pod.Name); err != nil {
			return err
		}
		_, err := k.InitializeOutput(ctx, s.wf, s.nodeID)
		return err
	}); err != nil {
		return err
	}
	if err := b.until(ctx, "every shard Running", timeout, shardsAre(shards, func(s shard, p wfv1.NodePhase) bool { return p == wfv1.NodeRunning })); err != nil {
		return err
	}
	if beforeOOM != nil {
		if err := beforeOOM(); err != nil {
			return err
		}
	}
	if err := bulk(ctx, shards, limit, func(ctx context.Context, s shard) error {
		if s.victim {
			_, err := k.OOMKill(ctx, s.wf.Namespace, s.pod.Name, kubelet.WaitKilled)
			return err
		}
		if err := k.FinalizeOutput(ctx, s.wf.Namespace, s.nodeID, nil); err != nil {
			return err
		}
		_, err := k.Succeed(ctx, s.wf.Namespace, s.pod.Name)
		return err
	}); err != nil {
		return err
	}
	if err := b.until(ctx, "every shard completed", timeout, shardsAre(shards, func(s shard, p wfv1.NodePhase) bool {
		return p == wfv1.NodeFailed && s.victim || p == wfv1.NodeSucceeded && !s.victim
	})); err != nil {
		return err
	}
	return bulk(ctx, shards, limit, func(ctx context.Context, s shard) error {
		if !s.deletePod {
			return nil
		}
		return k.Delete(ctx, s.wf.Namespace, s.pod.Name)
	})
}

// shardsAre is a nodeBoard condition: every shard's node satisfies ok.
func shardsAre(shards []shard, ok func(shard, wfv1.NodePhase) bool) func(map[string]boardEntry) (bool, string) {
	return func(wfs map[string]boardEntry) (bool, string) {
		pending := 0
		for _, s := range shards {
			if !ok(s, wfs[s.wf.Name].wf.Status.Nodes[s.nodeID].Phase) {
				pending++
			}
		}
		return pending == 0, fmt.Sprintf("%d of %d shards not yet there", pending, len(shards))
	}
}

// boardEntry is one workflow as last read: its nodes inflated, and what the
// API server held.
type boardEntry struct {
	wf *wfv1.Workflow
	// compressedBytes is len(status.compressedNodes) as stored (0: inline).
	compressedBytes int
	// inlineNodes is len(status.nodes) as stored.
	inlineNodes int
}

// nodeBoard is the latest state of the namespace's workflows, nodes
// decompressed, refreshed by one poller so that thousands of shards wait
// on their node without each reading and inflating a workflow of a
// megabyte.
type nodeBoard struct {
	c  *cluster.Cluster
	ns string

	mu   sync.Mutex
	wfs  map[string]boardEntry
	err  error
	seen int // refreshes done
}

// watchNodes refreshes a board of ns every interval until ctx ends.
func watchNodes(ctx context.Context, c *cluster.Cluster, ns string, every time.Duration) *nodeBoard {
	b := &nodeBoard{c: c, ns: ns, wfs: map[string]boardEntry{}}
	go wait.UntilWithContext(ctx, b.refresh, every)
	return b
}

func (b *nodeBoard) refresh(ctx context.Context) {
	l, err := b.c.Argo.ArgoprojV1alpha1().Workflows(b.ns).List(ctx, metav1.ListOptions{})
	wfs := map[string]boardEntry{}
	if err == nil {
		for i := range l.Items {
			wf := &l.Items[i]
			e := boardEntry{wf: wf, compressedBytes: len(wf.Status.CompressedNodes), inlineNodes: len(wf.Status.Nodes)}
			if err = packer.DecompressWorkflow(wf); err != nil {
				err = fmt.Errorf("%s: decompressing nodes: %w", wf.Name, err)
				break
			}
			wfs[wf.Name] = e
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			b.err = err
		}
		return
	}
	b.wfs, b.err = wfs, nil
	b.seen++
}

// until polls the board (in memory) for up to timeout until cond holds,
// failing with cond's last word on what is missing.
func (b *nodeBoard) until(ctx context.Context, what string, timeout time.Duration, cond func(map[string]boardEntry) (bool, string)) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.err != nil {
			return false, b.err
		}
		var ok bool
		ok, last = cond(b.wfs)
		return ok, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s (%s): %w", what, last, err)
	}
	return nil
}

// statusSizes are the sizes, in bytes, of a workflow as the API server holds
// it with its nodes compressed, and as it would be with them inline.
type statusSizes struct {
	CompressedNodes int // len(status.compressedNodes)
	NodesJSON       int // the nodes' JSON that compressedNodes inflates to
	Stored          int // the whole workflow's JSON, as stored
	Inline          int // the whole workflow's JSON with the nodes inline
	Nodes           int
}

// assertCompressed fails unless the API server holds wf's nodes compressed:
// status.nodes empty, status.compressedNodes set.
func assertCompressed(ctx context.Context, tb testing.TB, c *cluster.Cluster, ns, name string) statusSizes {
	tb.Helper()
	wf, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	stored, err := json.Marshal(wf)
	if err != nil {
		tb.Fatal(err)
	}
	if len(wf.Status.Nodes) != 0 || wf.Status.CompressedNodes == "" {
		tb.Fatalf("%s: status not compressed by the controller: %d nodes inline, compressedNodes %d bytes (workflow %d bytes of JSON); "+
			"the test would not exercise compressed status", name, len(wf.Status.Nodes), len(wf.Status.CompressedNodes), len(stored))
	}
	sz := statusSizes{CompressedNodes: len(wf.Status.CompressedNodes), Stored: len(stored)}
	if err := packer.DecompressWorkflow(wf); err != nil {
		tb.Fatalf("%s: decompressing: %v", name, err)
	}
	nodes, err := json.Marshal(wf.Status.Nodes)
	if err != nil {
		tb.Fatal(err)
	}
	inline, err := json.Marshal(wf)
	if err != nil {
		tb.Fatal(err)
	}
	sz.NodesJSON, sz.Inline, sz.Nodes = len(nodes), len(inline), len(wf.Status.Nodes)
	return sz
}

// taskResultWrites records every change to the namespace's task results
// after a resource version. The v3.5.8 controller deletes a workflow's task
// results once it completes, so "untouched" cannot be read off the objects
// after the rescue: it is read off the watch, which sees each write.
type taskResultWrites struct {
	mu       sync.Mutex
	modified map[string][]*wfv1.WorkflowTaskResult
	deleted  map[string]bool
	added    map[string]bool
	w        *watchtools.RetryWatcher
}

func watchTaskResults(tb testing.TB, c *cluster.Cluster, ns, fromRV string) *taskResultWrites {
	tb.Helper()
	trs := c.Argo.ArgoprojV1alpha1().WorkflowTaskResults(ns)
	w, err := watchtools.NewRetryWatcherWithContext(context.Background(), fromRV, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return trs.Watch(ctx, o) }})
	if err != nil {
		tb.Fatal(err)
	}
	r := &taskResultWrites{modified: map[string][]*wfv1.WorkflowTaskResult{}, deleted: map[string]bool{}, added: map[string]bool{}, w: w}
	tb.Cleanup(w.Stop)
	go func() {
		for ev := range w.ResultChan() {
			tr, ok := ev.Object.(*wfv1.WorkflowTaskResult)
			if !ok {
				continue
			}
			r.mu.Lock()
			switch ev.Type {
			case watch.Modified:
				r.modified[tr.Name] = append(r.modified[tr.Name], tr)
			case watch.Deleted:
				r.deleted[tr.Name] = true
			case watch.Added:
				r.added[tr.Name] = true
			}
			r.mu.Unlock()
		}
	}()
	return r
}

// sync returns once the watch has delivered every write made before it was
// called: it creates a marker task result and waits for its ADDED event
// (one resource's watch delivers in resource-version order).
func (r *taskResultWrites) sync(ctx context.Context, tb testing.TB, c *cluster.Cluster, ns string) {
	tb.Helper()
	marker := &wfv1.WorkflowTaskResult{ObjectMeta: metav1.ObjectMeta{GenerateName: "sync-marker-", Namespace: ns}}
	marker, err := c.Argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).Create(ctx, marker, metav1.CreateOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := support.Until(ctx, 2*time.Minute, func(context.Context) (bool, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.added[marker.Name], nil
	}); err != nil {
		tb.Fatalf("the task result watch never delivered its marker: %v", err)
	}
}

// check asserts that, of the task results listed before, the victims'
// (by node ID) were written and annotated by the remediator and no other
// was written at all (deleted by the controller with its workflow is fine).
// It returns how many were deleted.
func (r *taskResultWrites) check(tb testing.TB, before []wfv1.WorkflowTaskResult, victims map[string]bool) (deleted int) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, tr := range before {
		writes := r.modified[tr.Name]
		if r.deleted[tr.Name] {
			deleted++
		}
		wf := tr.Labels[common.LabelKeyWorkflow]
		if !victims[tr.Name] {
			if len(writes) != 0 {
				last := writes[len(writes)-1]
				tb.Errorf("task result %s of %s (not a victim) written: resourceVersion %s → %s, annotations %v, labels %v",
					tr.Name, wf, tr.ResourceVersion, last.ResourceVersion, last.Annotations, last.Labels)
			}
			continue
		}
		fixed := false
		for _, w := range writes {
			fixed = fixed || w.Annotations[remediate.AnnotationRemediatedAt] != "" && w.Labels[common.LabelKeyReportOutputsCompleted] == "true"
		}
		if !fixed {
			tb.Errorf("victim task result %s of %s: never completed with %s (%d writes)", tr.Name, wf, remediate.AnnotationRemediatedAt, len(writes))
		}
	}
	for name := range victims {
		if !containsTR(before, name) {
			tb.Errorf("victim %s has no task result before the rescue", name)
		}
	}
	return deleted
}

func containsTR(trs []wfv1.WorkflowTaskResult, name string) bool {
	for _, tr := range trs {
		if tr.Name == name {
			return true
		}
	}
	return false
}

// controllerTail is the end of the controller's log, for failure messages.
func controllerTail(ctl *argo.Controller) string {
	return "controller log ends:\n" + strings.TrimSpace(ctl.Tail(20))
}
