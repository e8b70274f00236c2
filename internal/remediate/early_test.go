package remediate

import (
	"context"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
)

// runningNode is a stuck workflow whose node the controller has not
// settled yet; synced is the node's taskResultSynced (nil as a v3.5/v3.6
// controller writes it, a pointer as v3.7+ does).
func runningNode(synced *bool) *wfv1.Workflow {
	wf := fixtures.Workflow(ns, wfName, wfUID, nodeID, wfv1.NodeRunning, fixtures.Bool(false), time.Now())
	n := wf.Status.Nodes[nodeID]
	n.TaskResultSynced = synced
	wf.Status.Nodes[nodeID] = n
	return wf
}

// TestProofActsBeforeTheNodeOnV35V36: the node is still Running (no
// taskResultSynced: a v3.5/v3.6 controller) and the pod shows wait
// terminated: the run writes without waiting for the controller to settle
// the node.
func TestProofActsBeforeTheNodeOnV35V36(t *testing.T) {
	wf := runningNode(nil)
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	done := e.run(context.Background(), target())
	waitFor(t, "the early write", func() bool { return len(e.writes()) > 0 })
	e.actAsController(t)
	o := receive(t, done)
	if o.err != nil || o.res.Outcome != OutcomeRemediated || o.res.Reason != decide.ReasonWaitTerminated {
		t.Fatalf("got %+v, %v; want remediated (wait-terminated)", o.res, o.err)
	}
}

// TestEventProofActsBeforeTheNodeOnV35V36: the pod is already gone, the
// event showed its wait terminated, the node is still Running on a
// v3.5/v3.6 controller: the run writes at once, no grace, no node.
func TestEventProofActsBeforeTheNodeOnV35V36(t *testing.T) {
	wf := runningNode(nil)
	e := newEnv(t, nil, wf, fixtures.TaskResult(wf, nodeID, false))
	e.opts.Grace, e.opts.Deadline = time.Hour, 2*time.Hour
	done := e.run(context.Background(), proven())
	waitFor(t, "the early write", func() bool { return len(e.writes()) > 0 })
	e.actAsController(t)
	if o := receive(t, done); o.err != nil || o.res.Outcome != OutcomeRemediated || o.res.Reason != decide.ReasonWaitTerminated {
		t.Fatalf("got %+v, %v; want remediated (wait-terminated)", o.res, o.err)
	}
}

// TestProofWaitsOutARecentStart: the node started less than
// decide.RecentlyStarted ago, when a v3.5/v3.6 controller would still
// re-create a missing pod: the early write waits for that moment, then
// comes without any change to watch.
func TestProofWaitsOutARecentStart(t *testing.T) {
	wf := runningNode(nil)
	started := time.Now().Add(-decide.RecentlyStarted + 1500*time.Millisecond) // young even when kept to the second
	n := wf.Status.Nodes[nodeID]
	n.StartedAt.Time = started
	wf.Status.Nodes[nodeID] = n
	e := newEnv(t, nil, wf, fixtures.TaskResult(wf, nodeID, false))
	e.opts.Grace, e.opts.Deadline = time.Hour, 2*time.Hour
	done := e.run(context.Background(), proven())
	waitFor(t, "the early write", func() bool { return len(e.writes()) > 0 })
	e.actAsController(t)
	o := receive(t, done)
	if o.err != nil || o.res.Outcome != OutcomeRemediated {
		t.Fatalf("got %+v, %v; want remediated", o.res, o.err)
	}
	// StartedAt is kept to the second by the API types' JSON.
	if age := o.res.Acted.Sub(started.Truncate(time.Second)); age < decide.RecentlyStarted {
		t.Errorf("written %s after the node's start; want at least %s", age, decide.RecentlyStarted)
	}
}

// TestProofWaitsForTheNodeOnV37: the same, but the node carries
// taskResultSynced (v3.7+/v4): a write now would turn the controller's
// rerun of the vanished pod into an Error, so the run waits for the node
// and writes nothing before its deadline.
func TestProofWaitsForTheNodeOnV37(t *testing.T) {
	for name, synced := range map[string]*bool{"synced false": fixtures.Bool(false), "synced true": fixtures.Bool(true)} {
		t.Run(name, func(t *testing.T) {
			wf := runningNode(synced)
			e := newEnv(t, nil, wf, fixtures.TaskResult(wf, nodeID, false))
			e.opts.Grace, e.opts.Deadline = time.Hour, 300*time.Millisecond
			o := receive(t, e.run(context.Background(), proven()))
			if o.err != nil || o.res.Outcome != OutcomeDeadlineExceeded {
				t.Fatalf("got %+v, %v; want deadline-exceeded (waiting for the node)", o.res, o.err)
			}
			if w := e.writes(); len(w) > 0 {
				t.Errorf("an early write on a v3.7+ node: %v", w)
			}
		})
	}
}
