package remediate

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/util/file"
	"github.com/argoproj/argo-workflows/v3/workflow/packer"
	"k8s.io/apimachinery/pkg/runtime"
)

// Large workflows: the node is read wherever the controller keeps it.

func compressedWorkflow(t *testing.T, wf *wfv1.Workflow) *wfv1.Workflow {
	t.Helper()
	// Add nodes until the workflow is large, so the packer's limit can sit
	// between its size and its packed size, as on a real fan-out.
	for i := range 200 {
		id := fmt.Sprintf("%s-shard-%d", wfName, i)
		wf.Status.Nodes[id] = wfv1.NodeStatus{ID: id, Name: id, Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded}
	}
	defer packer.SetMaxWorkflowSize(8000)()
	if err := packer.CompressWorkflowIfNeeded(wf); err != nil || wf.Status.CompressedNodes == "" {
		t.Fatalf("Argo's packer did not compress the nodes: %v", err)
	}
	return wf
}

func TestCompressedNodeIsRescued(t *testing.T) {
	wf := compressedWorkflow(t, stuckWorkflow(time.Now()))
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	done := e.run(context.Background(), target())
	e.actAsController(t)
	o := receive(t, done)
	if o.err != nil || o.res.Outcome != OutcomeRemediated || o.res.Reason != decide.ReasonWaitTerminated ||
		o.res.NodesStorage != "compressed" || o.res.NodePhase != string(wfv1.NodeError) {
		t.Fatalf("got %+v, %v; want remediated (wait-terminated) with the node read from compressedNodes", o.res, o.err)
	}
}

func offloadedWorkflow(finished time.Time) *wfv1.Workflow {
	wf := stuckWorkflow(finished)
	wf.Status.Nodes = nil
	wf.Status.OffloadNodeStatusVersion = "fnv:784403396"
	return wf
}

func TestOffloadedNodeIsDecidedOnThePod(t *testing.T) {
	t.Run("wait terminated: at once", func(t *testing.T) {
		wf := offloadedWorkflow(time.Now())
		e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
			wf, fixtures.TaskResult(wf, nodeID, false))
		done := e.run(context.Background(), target())
		e.actAsController(t)
		o := receive(t, done)
		if o.err != nil || o.res.Outcome != OutcomeRemediated || o.res.Reason != decide.ReasonWaitTerminated || o.res.NodesStorage != "offloaded" {
			t.Fatalf("got %+v, %v; want remediated (wait-terminated), offloaded", o.res, o.err)
		}
	})
	t.Run("pod gone: the grace from the first read that found it gone", func(t *testing.T) {
		wf := offloadedWorkflow(time.Now().Add(-time.Hour)) // a finish time the remediator cannot see
		e := newEnv(t, nil, wf, fixtures.TaskResult(wf, nodeID, false))
		e.opts.Grace = 300 * time.Millisecond
		start := time.Now()
		done := e.run(context.Background(), target())
		e.actAsController(t)
		o := receive(t, done)
		if o.err != nil || o.res.Outcome != OutcomeRemediated || o.res.Reason != decide.ReasonPodGoneGraceElapsed {
			t.Fatalf("got %+v, %v", o.res, o.err)
		}
		if acted := o.res.Acted.Sub(start); acted < e.opts.Grace {
			t.Errorf("completed %v after start, before the grace %v", acted, e.opts.Grace)
		}
	})
	t.Run("wait finishes normally: nothing written", func(t *testing.T) {
		wf := offloadedWorkflow(time.Now())
		e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitRunning)}, wf, fixtures.TaskResult(wf, nodeID, false))
		e.opts.Deadline = 300 * time.Millisecond
		o := receive(t, e.run(context.Background(), target()))
		if o.err != nil || o.res.Outcome != OutcomeDeadlineExceeded || len(e.writes()) != 0 {
			t.Fatalf("got %+v, %v, writes %v; want deadline-exceeded, no write", o.res, o.err, e.writes())
		}
	})
}

func TestUnreadableNodesAreNeverWrittenOn(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	wf.Status.Nodes = nil
	wf.Status.CompressedNodes = file.CompressEncodeString("{not json")
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)}, wf, fixtures.TaskResult(wf, nodeID, false))
	o := receive(t, e.run(context.Background(), target()))
	if o.err != nil || o.res.Outcome != OutcomeNodesUnreadable || !o.res.Stuck || o.res.Err == "" {
		t.Fatalf("got %+v, %v; want nodes-unreadable, stuck, with the error", o.res, o.err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("writes %v, want none", w)
	}
	if got := e.events.reasons(); !slices.Equal(got, []string{ReasonStuck}) {
		t.Errorf("events %v, want %s", got, ReasonStuck)
	}
}

func TestUnknownNodeOfAHeldWorkflowIsReported(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, nil, wf)
	tg := target()
	tg.NodeID = "not-a-node"
	o := receive(t, e.run(context.Background(), tg))
	if o.err != nil || o.res.Outcome != OutcomeNodeUnknown || !o.res.Stuck {
		t.Fatalf("got %+v, %v; want node-unknown, stuck (the workflow is held by %s)", o.res, o.err, nodeID)
	}
	if got := e.events.reasons(); !slices.Equal(got, []string{ReasonStuck}) {
		t.Errorf("events %v, want %s", got, ReasonStuck)
	}

	healthy := fixtures.Workflow(ns, wfName, wfUID, nodeID, wfv1.NodeRunning, fixtures.Bool(true), time.Now())
	e = newEnv(t, nil, healthy)
	o = receive(t, e.run(context.Background(), tg))
	if o.err != nil || o.res.Outcome != OutcomeNodeUnknown || o.res.Stuck || len(e.events.reasons()) != 0 {
		t.Fatalf("got %+v, %v, events %v; want a quiet node-unknown", o.res, o.err, e.events.reasons())
	}
}
