package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// check holds what the assertions of a case need.
type check struct {
	t     *testing.T
	k     *Case
	s     Scenario
	exp   Expectation
	rem   *remediate.Remediator
	early chan outcome // the run started at the trigger, for early scenarios
	// grace is the remediator's grace for a vanished pod in this case.
	grace time.Duration
}

type outcome struct {
	res remediate.Result
	err error
}

// runRemediator runs the remediator now, triggered by the victim's pod.
func (c check) runRemediator(victim Timeline) remediate.Result {
	c.t.Helper()
	if c.s.Compressed {
		c.compressedNow()
	}
	res, err := c.rem.Run(context.Background(), c.k.Target(victim, "OOMKilled"))
	if err != nil {
		c.t.Fatalf("remediator: %v", err)
	}
	if c.s.Compressed && res.Wrote() && res.NodesStorage != "compressed" {
		c.t.Errorf("the remediator wrote, having read the nodes from %q storage; want compressed", res.NodesStorage)
	}
	return res
}

// compressedNow checks that the workflow, as stored, keeps its nodes in
// status.compressedNodes only: otherwise a compressed scenario would prove
// nothing about reading them there.
func (c check) compressedNow() {
	c.t.Helper()
	wf, err := c.k.Workflow(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	if wf.Status.CompressedNodes == "" || len(wf.Status.Nodes) > 0 {
		c.t.Fatalf("the controller (MAX_WORKFLOW_SIZE=%d) keeps %d nodes in status.nodes and %d bytes in status.compressedNodes; want them compressed only",
			CompressedMaxSize, len(wf.Status.Nodes), len(wf.Status.CompressedNodes))
	}
}

// receive returns the result of the run started at the trigger.
func (c check) receive() remediate.Result {
	c.t.Helper()
	select {
	case o := <-c.early:
		if o.err != nil {
			c.t.Fatalf("remediator: %v", o.err)
		}
		return o.res
	case <-time.After(2 * time.Minute):
		c.t.Fatal("the remediator did not return within 2 min")
	}
	return remediate.Result{}
}

func (c check) victimDone() Timeline {
	c.t.Helper()
	tl, err := c.k.Player.VictimDone(context.Background(), 2*time.Minute)
	if err != nil {
		c.t.Fatal(err)
	}
	return tl
}

// awaitNodeEnded waits until the controller shows the victim's node ended.
func (c check) awaitNodeEnded(victim Timeline) {
	c.t.Helper()
	c.awaitNode(victim, "the victim node to end", func(n wfv1.NodeStatus) bool { return n.Phase.FailedOrError() })
}

// awaitNode waits until the victim's node satisfies cond.
func (c check) awaitNode(victim Timeline, what string, cond func(wfv1.NodeStatus) bool) {
	c.t.Helper()
	_, _, err := c.k.AwaitWorkflow(context.Background(), settle, what, func(wf *wfv1.Workflow) bool {
		n, ok := wf.Status.Nodes[victim.NodeID]
		return ok && cond(n)
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

// awaitPhase waits for the workflow's terminal phase and checks it is phase.
func (c check) awaitPhase(phase wfv1.WorkflowPhase) (*wfv1.Workflow, time.Time) {
	c.t.Helper()
	return c.awaitPhaseIn(phase)
}

// awaitPhaseIn waits for the workflow's terminal phase and checks it is one
// of phases (where the controller's timing decides between them).
func (c check) awaitPhaseIn(phases ...wfv1.WorkflowPhase) (*wfv1.Workflow, time.Time) {
	c.t.Helper()
	wf, at, err := c.k.AwaitWorkflow(context.Background(), settle, "the terminal phase", func(wf *wfv1.Workflow) bool {
		return wf.Status.Phase.Completed()
	})
	if err != nil {
		c.t.Fatal(err)
	}
	if !slices.Contains(phases, wf.Status.Phase) {
		c.t.Fatalf("the workflow ended %s, want %v: %s", wf.Status.Phase, phases, describe(wf))
	}
	return wf, at
}

// remediatorLeftAlone checks a run that must write nothing.
func (c check) remediatorLeftAlone(res remediate.Result, want remediate.Outcome, reasons ...decide.Reason) {
	c.t.Helper()
	if res.Outcome != want || res.Wrote() || (len(reasons) > 0 && !slices.Contains(reasons, res.Reason)) {
		c.t.Errorf("remediator: %s (%s), wrote %v; want %s %v, no write", res.Outcome, res.Reason, res.Wrote(), want, reasons)
	}
}

// safe checks every task result: only the victim's may carry the
// remediator's mark, only when this run wrote it, and the write must come
// after the wait container's end began to be reported (and, for a pod
// trusted dead because it vanished, after the grace since its deletion).
// The write time is checked three ways: as the remediator reports it
// (res.Acted), as the player's own task-result watch saw it, and as the
// mark's timestamp says (to the second).
func (c check) safe(victim Timeline, res remediate.Result) {
	c.t.Helper()
	trs, err := c.k.TaskResults(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	trustedGone := res.Reason == decide.ReasonPodGoneGraceElapsed
	for name, tr := range trs {
		at, marked := tr.Annotations[remediate.AnnotationRemediatedAt]
		switch {
		case !marked:
			if name == victim.NodeID && res.Wrote() {
				c.t.Errorf("task result %s: the remediator reported a write but left no mark", name)
			}
			continue
		case name != victim.NodeID || !res.Wrote():
			c.t.Errorf("task result %s carries the remediator's mark (%s) but the remediator should not have written it", name, at)
			continue
		}
		if tr.Labels[remediate.LabelCompleted] != "true" {
			c.t.Errorf("task result %s: marked but its label is %q", name, tr.Labels[remediate.LabelCompleted])
		}
		written, err := time.Parse(time.RFC3339, at)
		if err != nil || written.Before(victim.WaitEnding.Truncate(time.Second)) {
			c.t.Errorf("task result %s remediated at %s, before its wait container ended (%s)", name, at, victim.WaitEnding.Format(time.RFC3339Nano))
		}
	}
	if comp, ok := c.k.Player.Completed(victim.NodeID); ok && comp.ByRemediator {
		if !res.Wrote() {
			c.t.Errorf("the victim's task result was completed by the remediator at %s, but the run reports no write", comp.At.Format(time.StampMilli))
		}
		if err := EarlyWrite(victim, comp.At, trustedGone, c.grace); err != nil {
			c.t.Errorf("the task result watch saw the remediator's write too early: %v", err)
		}
	} else if res.Wrote() && !res.Previously {
		c.t.Errorf("the remediator reports a write at %s, but the task result watch never saw its mark with the label complete", res.Acted.Format(time.StampMilli))
	}
	if err := EarlyWrite(victim, res.Acted, trustedGone, c.grace); err != nil {
		c.t.Errorf("the remediator wrote too early: %v", err)
	}
}

// outputsIntact checks that every step whose executor reported outputs has
// them in its node: the DAG's healthy tasks, a wait container that
// finished, a rerun step.
func (c check) outputsIntact(wf *wfv1.Workflow) {
	c.t.Helper()
	for _, tl := range c.k.Player.Timelines() {
		if tl.Victim && !c.s.Fate.ReportsOutputs() {
			continue // killed before it reported anything
		}
		n, ok := wf.Status.Nodes[tl.NodeID]
		want := outputsOf(&tl).Parameters[0].Value.String()
		if !ok || n.Outputs == nil || len(n.Outputs.Parameters) == 0 || n.Outputs.Parameters[0].Value.String() != want {
			c.t.Errorf("node %s: outputs %+v, want parameter %s=%s", tl.NodeName, n.Outputs, OutputParam, want)
		}
	}
}
