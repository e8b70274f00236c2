package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	"github.com/argoproj/argo-workflows/v3/workflow/packer"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

const (
	fanOutShards = 12
	fanOutVictim = "shard-07" // the shard whose pod is OOMKilled
	// fanOutMaxWorkflowSize is the controller's MAX_WORKFLOW_SIZE for the test
	// (Argo's packer compares it with the length of the workflow's JSON).
	// Measured: once the shards' 13 nodes exist (all Pending) the workflow
	// is ~6.9 kB inline, so it is compressed from its first status with
	// them on; compressed it stays under ~3.8 kB to the end. The limit sits
	// between with ~1.2 kB to spare each way: were the compressed workflow
	// over it, v3.5.8 would try to offload its nodes (not configured here)
	// and mark it Error.
	fanOutMaxWorkflowSize = 5000
)

// TestPipelineRescuesCompressedFanOut: a fan-out of 12 shards whose status
// the v3.5.8 controller keeps compressed (status.compressedNodes, above
// MAX_WORKFLOW_SIZE). One shard's pod is OOMKilled with its wait container
// and later deleted; the Sensor's Job must find that node inside the
// compressed status, complete only its task result, and let the controller
// fail the workflow, while the 11 finished shards' task results stay as
// their executors left them.
func TestPipelineRescuesCompressedFanOut(t *testing.T) {
	// DEFAULT_REQUEUE_TIME 1s: v3.5.8 re-reads a workflow at most once per
	// requeue time, and the rescue needs two re-reads (the pod's end, then
	// the completed task result); at the default 10s they alone cost ~20s
	// of `make test`. The rescue itself does not depend on it.
	p := startPipeline(t, 2, fmt.Sprintf("MAX_WORKFLOW_SIZE=%d", fanOutMaxWorkflowSize), "DEFAULT_REQUEUE_TIME=1s")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const name = "fan-out-compressed"
	wf, err := p.C.Argo.ArgoprojV1alpha1().Workflows(p.NS).Create(ctx, fanOut(name), metav1.CreateOptions{})
	must(t, err)
	// Watched from before any task result exists: v3.5.8 deletes a
	// workflow's task results once it completes, and the remediator's write
	// lands only moments before that, so polling could miss both.
	trs, err := watchTaskResults(ctx, p, name)
	must(t, err)

	pods := p.shardPods(ctx, t, wf)
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range pods {
		g.Go(func() (err error) {
			if r.Pod, err = p.Kubelet.Start(gctx, p.NS, r.Pod.Name); err != nil {
				return err
			}
			_, err = p.Kubelet.InitializeOutput(gctx, wf, r.NodeID)
			return err
		})
	}
	must(t, g.Wait())
	// The remediator reads the workflow while the victim is stuck: its
	// status must be compressed by then, or this test proves nothing about
	// compressed status.
	must(t, support.Until(ctx, time.Minute, func(ctx context.Context) (bool, error) {
		nodes, err := p.shardNodes(ctx, name)
		if err != nil {
			return false, err
		}
		for _, r := range pods {
			if nodes[r.NodeID].Phase != wfv1.NodeRunning {
				return false, nil
			}
		}
		return true, nil
	}))

	finalizedRV := make(map[string]string, fanOutShards) // node ID -> task result resourceVersion once finalized
	var mu sync.Mutex
	var oomAt time.Time
	g, gctx = errgroup.WithContext(ctx)
	for shard, r := range pods {
		g.Go(func() error {
			if shard == fanOutVictim {
				at, err := p.oomKill(gctx, r)
				mu.Lock()
				oomAt = at
				mu.Unlock()
				return err
			}
			if err := p.Kubelet.FinalizeOutput(gctx, p.NS, r.NodeID, shardOutputs(shard)); err != nil {
				return err
			}
			tr, err := p.C.Argo.ArgoprojV1alpha1().WorkflowTaskResults(p.NS).Get(gctx, r.NodeID, metav1.GetOptions{})
			if err != nil {
				return err
			}
			mu.Lock()
			finalizedRV[r.NodeID] = tr.ResourceVersion
			mu.Unlock()
			_, err = p.Kubelet.Succeed(gctx, p.NS, r.Pod.Name)
			return err
		})
	}
	must(t, g.Wait())

	job, err := p.firstJob(ctx, name)
	must(t, err)
	final, terminalAt, err := p.waitTerminal(ctx, name, func(got *wfv1.Workflow) error {
		if len(got.Status.Nodes) > 0 {
			return fmt.Errorf("workflow %s: nodes inline again (%d) after the OOM; want them compressed throughout", name, len(got.Status.Nodes))
		}
		return nil
	})
	must(t, err)
	_, err = p.waitFirstJobDone(ctx, name)
	must(t, err)
	t.Logf("pod OOMKilled -> Job created:        %s", ms(job.Seen.Sub(oomAt)))
	t.Logf("pod OOMKilled -> workflow %s:    %s", final.Status.Phase, ms(terminalAt.Sub(oomAt)))
	if done := jobsOf(p.Jobs.runsNow(), name)[0]; !done.Done.IsZero() {
		t.Logf("(remediator process ran from %s to %s after the OOM)", ms(done.Started.Sub(oomAt)), ms(done.Done.Sub(oomAt)))
	}

	js := jobsOf(p.Jobs.runsNow(), name)
	if len(js) != 1 {
		t.Errorf("%d Jobs for the workflow, want 1: %+v", len(js), js)
	}
	if js[0].Reason != "OOMKilled" || js[0].ExitCode != 0 || js[0].Err != nil {
		t.Errorf("Job %s: reason %q, exit %d, err %v (log %s)", js[0].Name, js[0].Reason, js[0].ExitCode, js[0].Err, js[0].LogPath)
	}
	if final.Status.Phase != wfv1.WorkflowFailed {
		t.Errorf("workflow phase %s, want %s", final.Status.Phase, wfv1.WorkflowFailed)
	}
	checkFinalNodes(t, final, pods)
	checkPodDeletion(ctx, t, p, pods[fanOutVictim])

	events, err := trs.stop()
	must(t, err)
	for shard, r := range pods {
		if shard == fanOutVictim {
			checkRemediated(t, shard, events[r.NodeID])
		} else {
			checkUntouched(t, shard, events[r.NodeID], finalizedRV[r.NodeID])
		}
	}
}

// fanOut is a DAG of fanOutShards parallel tasks, each a container with an
// output parameter (so every finished shard's task result carries outputs
// the controller must copy into its node).
func fanOut(name string) *wfv1.Workflow {
	tasks := make([]wfv1.DAGTask, fanOutShards)
	for i := range tasks {
		tasks[i] = wfv1.DAGTask{Name: fmt.Sprintf("shard-%02d", i), Template: "shard"}
	}
	return &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: wfv1.WorkflowSpec{Entrypoint: "fan-out", Templates: []wfv1.Template{
			{Name: "fan-out", DAG: &wfv1.DAGTemplate{Tasks: tasks}},
			{
				Name: "shard",
				Container: &corev1.Container{Image: "python:3.12-slim", Command: []string{"python", "-c", "open('/tmp/rows', 'w').write('1000')"},
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}},
				Outputs: wfv1.Outputs{Parameters: []wfv1.Parameter{{Name: "rows", ValueFrom: &wfv1.ValueFrom{Path: "/tmp/rows"}}}},
			},
		}},
	}
}

func shardOutputs(shard string) *wfv1.Outputs {
	return &wfv1.Outputs{Parameters: []wfv1.Parameter{{Name: "rows", Value: wfv1.AnyStringPtr("rows of " + shard)}}}
}

// shardPods waits for the pod of every shard and returns them by task name.
func (p *pipeline) shardPods(ctx context.Context, t *testing.T, wf *wfv1.Workflow) map[string]*running {
	t.Helper()
	out := map[string]*running{}
	must(t, support.Until(ctx, time.Minute, func(ctx context.Context) (bool, error) {
		pods, err := p.C.Kube.CoreV1().Pods(p.NS).List(ctx, metav1.ListOptions{LabelSelector: common.LabelKeyWorkflow + "=" + wf.Name})
		if err != nil || len(pods.Items) < fanOutShards {
			return false, err
		}
		for i := range pods.Items {
			pod := &pods.Items[i]
			// A DAG task's node is named "<workflow>.<task>".
			task, _ := strings.CutPrefix(pod.Annotations[common.AnnotationKeyNodeName], wf.Name+".")
			out[task] = &running{WF: wf, Pod: pod, NodeID: pod.Annotations[common.AnnotationKeyNodeID]}
		}
		return true, nil
	}))
	if len(out) != fanOutShards || out[fanOutVictim] == nil {
		t.Fatalf("pods for tasks %v, want %d shards including %s", slices.Sorted(maps.Keys(out)), fanOutShards, fanOutVictim)
	}
	return out
}

// shardNodes reads the workflow from the API server and returns its nodes,
// decoded with Argo's own packer when compressed. Once every shard has its
// node they must be compressed: an error then says the test would prove
// nothing about compressed status (MAX_WORKFLOW_SIZE too high).
func (p *pipeline) shardNodes(ctx context.Context, name string) (wfv1.Nodes, error) {
	wf, err := p.C.Argo.ArgoprojV1alpha1().Workflows(p.NS).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if n := len(wf.Status.Nodes); n > 0 {
		if n <= fanOutShards {
			return wf.Status.Nodes, nil // not every shard's node is in yet
		}
		size, _ := json.Marshal(wf)
		return nil, fmt.Errorf("workflow %s keeps its %d nodes inline in status.nodes (workflow %d bytes, MAX_WORKFLOW_SIZE %d): "+
			"its status is not compressed, so the test would prove nothing about compressed status", name, n, len(size), fanOutMaxWorkflowSize)
	}
	if err := packer.DecompressWorkflow(wf); err != nil {
		return nil, fmt.Errorf("workflow %s: decompressing status.compressedNodes: %w", name, err)
	}
	return wf.Status.Nodes, nil
}

// checkFinalNodes checks the terminal workflow: still compressed, the
// victim's node failed, every other shard succeeded with its outputs.
func checkFinalNodes(t *testing.T, wf *wfv1.Workflow, pods map[string]*running) {
	t.Helper()
	if len(wf.Status.Nodes) > 0 || wf.Status.CompressedNodes == "" {
		t.Errorf("terminal workflow keeps %d nodes inline, compressedNodes %d bytes: want compressed", len(wf.Status.Nodes), len(wf.Status.CompressedNodes))
		return
	}
	size, _ := json.Marshal(wf)
	compressed := len(wf.Status.CompressedNodes)
	wf = wf.DeepCopy()
	must(t, packer.DecompressWorkflow(wf))
	inline, _ := json.Marshal(wf.Status.Nodes)
	t.Logf("terminal workflow: %d bytes with %d nodes compressed into %d bytes (%d bytes inline); MAX_WORKFLOW_SIZE %d",
		len(size), len(wf.Status.Nodes), compressed, len(inline), fanOutMaxWorkflowSize)
	for shard, r := range pods {
		n := wf.Status.Nodes[r.NodeID]
		want := wfv1.NodeSucceeded
		if shard == fanOutVictim {
			want = wfv1.NodeFailed
		}
		if n.Phase != want {
			t.Errorf("node of %s: %s %q, want %s", shard, n.Phase, n.Message, want)
		}
		if shard != fanOutVictim && (n.Outputs == nil || len(n.Outputs.Parameters) != 1 || n.Outputs.Parameters[0].Value.String() != "rows of "+shard) {
			t.Errorf("node of %s: outputs %+v, want its task result's", shard, n.Outputs)
		}
	}
}

// checkRemediated: the remediator completed the victim's task result and
// signed it.
func checkRemediated(t *testing.T, shard string, events []taskResultEvent) {
	t.Helper()
	for _, e := range events {
		if e.Type == watch.Modified && e.TR.Annotations[remediate.AnnotationRemediatedAt] != "" {
			if e.TR.Labels[common.LabelKeyReportOutputsCompleted] != "true" {
				t.Errorf("%s: task result annotated %s but labelled %s=%q", shard, remediate.AnnotationRemediatedAt,
					common.LabelKeyReportOutputsCompleted, e.TR.Labels[common.LabelKeyReportOutputsCompleted])
			}
			return
		}
	}
	t.Errorf("%s: the remediator never annotated its task result; events: %s", shard, describeEvents(events))
}

// checkUntouched: after its executor finalized it, nobody but the
// controller's deletion wrote on a healthy shard's task result.
func checkUntouched(t *testing.T, shard string, events []taskResultEvent, finalizedRV string) {
	t.Helper()
	var last *wfv1.WorkflowTaskResult
	for i, e := range events {
		if e.Type != watch.Deleted {
			last = &events[i].TR
		}
	}
	switch {
	case last == nil:
		t.Errorf("%s: no task result seen; events: %s", shard, describeEvents(events))
	case last.ResourceVersion != finalizedRV:
		t.Errorf("%s: task result written after its finalization (resourceVersion %s, finalized at %s); events: %s",
			shard, last.ResourceVersion, finalizedRV, describeEvents(events))
	case last.Annotations[remediate.AnnotationRemediatedAt] != "":
		t.Errorf("%s: task result annotated by the remediator: %v", shard, last.Annotations)
	case last.Outputs == nil || len(last.Outputs.Parameters) != 1 || last.Outputs.Parameters[0].Value.String() != "rows of "+shard:
		t.Errorf("%s: task result outputs %+v, want the executor's", shard, last.Outputs)
	}
}

type taskResultEvent struct {
	Type watch.EventType
	TR   wfv1.WorkflowTaskResult
}

func describeEvents(events []taskResultEvent) string {
	s := ""
	for _, e := range events {
		s += fmt.Sprintf("[%s rv %s labels %v annotations %v] ", e.Type, e.TR.ResourceVersion, e.TR.Labels, e.TR.Annotations)
	}
	return s
}

// taskResultWatch records every event of one workflow's task results.
type taskResultWatch struct {
	w    watch.Interface
	done chan struct{}
	mu   sync.Mutex
	by   map[string][]taskResultEvent // by name (the node ID)
	err  error
	// stopping: Stop closes the stream under the decoder, which may then
	// report that as an Error event; it is no gap.
	stopping bool
}

func watchTaskResults(ctx context.Context, p *pipeline, workflow string) (*taskResultWatch, error) {
	w, err := p.C.Argo.ArgoprojV1alpha1().WorkflowTaskResults(p.NS).Watch(ctx, metav1.ListOptions{LabelSelector: common.LabelKeyWorkflow + "=" + workflow})
	if err != nil {
		return nil, err
	}
	tw := &taskResultWatch{w: w, done: make(chan struct{}), by: map[string][]taskResultEvent{}}
	go func() {
		defer close(tw.done)
		for e := range w.ResultChan() {
			tr, ok := e.Object.(*wfv1.WorkflowTaskResult)
			tw.mu.Lock()
			if ok {
				tw.by[tr.Name] = append(tw.by[tr.Name], taskResultEvent{Type: e.Type, TR: *tr})
			} else if tw.err == nil && !tw.stopping {
				tw.err = fmt.Errorf("task result watch: %s event %v", e.Type, e.Object)
			}
			tw.mu.Unlock()
		}
	}()
	return tw, nil
}

// stop ends the watch and returns the events by task result name. A watch
// that ended by itself (the API server closed it) may have missed events:
// that is an error, not a pass on a gap.
func (tw *taskResultWatch) stop() (map[string][]taskResultEvent, error) {
	select {
	case <-tw.done:
		return nil, errors.New("task result watch ended before the test stopped it")
	default:
	}
	tw.mu.Lock()
	tw.stopping = true
	tw.mu.Unlock()
	tw.w.Stop()
	<-tw.done
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.by, tw.err
}
