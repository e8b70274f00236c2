package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/argo"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// Bounds of a case. The controller requeues a workflow 10 s after each
// event, so each step of a case takes about 10 s.
const (
	// window is how long a stuck workflow must be seen to stay Running.
	// v3.5.13/v3.6.15 self-heal 2 min after the node finished: far beyond.
	window = 20 * time.Second
	// grace is the remediator's grace for a vanished pod (30 s by
	// default; small here for speed) unless the scenario sets its own.
	grace = 2 * time.Second
	// settle bounds each wait for the controller (several requeues).
	settle = 45 * time.Second
)

// TestMatrix runs every scenario on every controller version and checks
// the expectation of the pair: (a) without the remediator, the workflow is
// stuck over the window, ends, or reruns the step; (b) the real remediator
// then ends a stuck workflow and leaves every other one alone; (c) nothing
// was written while a wait container could still write.
func TestMatrix(t *testing.T) {
	for _, s := range Scenarios {
		for _, v := range argo.Versions {
			exp, err := ExpectationFor(v, s)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(s.Name+"/"+v, func(t *testing.T) {
				t.Parallel()
				began := time.Now()
				c := startCheck(t, v, s, exp)
				switch {
				case exp.Upstream == NotStuck:
					c.notStuck()
				case s.Early:
					c.earlyRun(c.victimDone())
				case exp.Upstream == Stuck:
					c.stuck(c.victimDone(), true)
				case exp.Upstream == Ends:
					c.ends(c.victimDone())
				case exp.Upstream == Reruns:
					c.reruns(c.victimDone())
				case exp.Upstream == Racy:
					c.racy(c.victimDone())
				case exp.Upstream == RerunsOrEnds:
					c.rerunsOrEnds(c.victimDone())
				}
				if err := c.k.Player.Err(); err != nil {
					t.Error(err)
				}
				t.Logf("took %s", time.Since(began).Round(time.Second))
			})
		}
	}
}

// startCheck starts the case; for an early scenario, the remediator starts
// at the victim's trigger (its OOM, or for a healthy step its node running).
func startCheck(t *testing.T, version string, s Scenario, exp Expectation) check {
	c := check{t: t, s: s, exp: exp, early: make(chan outcome, 1), grace: grace}
	if s.Grace > 0 {
		c.grace = s.Grace
	}
	fired := make(chan Timeline, 1)
	hooks := Hooks{}
	if s.Early {
		fire := func(tl Timeline) { fired <- tl }
		if s.Fate == Succeeds {
			hooks.Running = fire
		} else {
			hooks.OOM = fire
		}
	}
	k, err := StartCase(context.Background(), env, version, s, logDir, hooks)
	if k != nil {
		t.Cleanup(k.Close)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.k = k
	t.Logf("namespace %s, workflow %s; expecting %s → %s (%s)", k.NS, k.WF.Name, exp.Upstream, exp.Phase, exp.Why)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("state: %s; controller log: %s", k.Describe(context.Background()), k.Ctl.LogPath)
		}
	})
	if c.rem, err = k.Remediator(remediate.Options{Grace: c.grace, Deadline: 90 * time.Second, VerifyTimeout: settle}); err != nil {
		t.Fatal(err)
	}
	if s.Early {
		go func() {
			select {
			case tl := <-fired:
				res, err := c.rem.Run(context.Background(), k.TriggeredBy(tl, "OOMKilled"))
				c.early <- outcome{res, err}
			case <-time.After(2 * time.Minute): // receive reports it
			}
		}()
	}
	return c
}

// notStuck: the remediator, started at the trigger, must wait for the
// healthy executor and write nothing; the workflow must not end before the
// wait container did.
func (c check) notStuck() {
	victim := c.victimDone()
	wf, at := c.awaitPhase(c.exp.Phase)
	if at.Before(victim.WaitEnding) {
		c.t.Errorf("the workflow ended (%s) before the wait container did (%s)", at.Format(time.StampMilli), victim.WaitEnding.Format(time.StampMilli))
	}
	res := c.receive()
	if c.s.Fate == OOMWaitFinishesPodDeleted && res.Outcome == remediate.OutcomeAlreadyComplete {
		// The pod gone, the remediator re-reads at the end of its grace,
		// which the workflow's end (a requeue after the wait's report) may
		// precede.
		c.remediatorLeftAlone(res, remediate.OutcomeAlreadyComplete)
	} else {
		c.remediatorLeftAlone(res, remediate.OutcomeNotStuck, "task-result-complete")
	}
	c.outputsIntact(wf)
	c.safe(victim, remediate.Result{})
}

// stuck: the workflow stays Running over the window (unless already
// observed); the remediator ends it.
func (c check) stuck(victim Timeline, observe bool) {
	c.awaitNodeEnded(victim)
	if observe {
		if err := c.k.StaysRunning(context.Background(), window); err != nil {
			c.t.Fatalf("expected the workflow stuck in Running for %s: %v", window, err)
		}
	}
	res := c.runRemediator(victim)
	if res.Outcome != remediate.OutcomeRemediated || res.Action != c.exp.Action {
		c.t.Fatalf("remediator: %s, action %q (%s); want remediated, %q", res.Outcome, res.Action, res.Reason, c.exp.Action)
	}
	wf, at := c.awaitPhase(c.exp.Phase)
	c.t.Logf("remediated (%s, %s); the workflow was %s %.1fs after the write", res.Action, res.Reason, wf.Status.Phase, at.Sub(res.Acted).Seconds())
	c.safe(victim, res)
	c.outputsIntact(wf)
}

// ends: the controller ends the workflow on its own; the remediator finds
// it complete.
func (c check) ends(victim Timeline, phases ...wfv1.WorkflowPhase) {
	if len(phases) == 0 {
		phases = []wfv1.WorkflowPhase{c.exp.Phase}
	}
	wf, _ := c.awaitPhaseIn(phases...)
	c.remediatorLeftAlone(c.runRemediator(victim), remediate.OutcomeAlreadyComplete)
	c.safe(victim, remediate.Result{})
	c.outputsIntact(wf)
}

// reruns: the controller re-creates the pod and puts the node back to
// Pending/Running; the remediator, triggered by the first pod, must leave
// the rerun alone.
func (c check) reruns(victim Timeline) {
	rerun, err := c.k.Player.Await(context.Background(), settle, "the re-created pod", func(tl Timeline) bool {
		return tl.NodeID == victim.NodeID && tl.Attempt > 1
	})
	if err != nil {
		c.t.Fatal(err)
	}
	// The rerun pod may succeed, and the workflow end, before a poll sees
	// the node Pending/Running (seen on a loaded CI machine, v3.7.18):
	// Succeeded counts too, since only the rerun can succeed a node whose
	// first pod was OOMKilled.
	_, _, err = c.k.AwaitWorkflow(context.Background(), settle, "the node back to Pending/Running (or Succeeded by the rerun)", func(wf *wfv1.Workflow) bool {
		n, ok := wf.Status.Nodes[victim.NodeID]
		return ok && (n.Phase == wfv1.NodePending || n.Phase == wfv1.NodeRunning || n.Phase == wfv1.NodeSucceeded)
	})
	if err != nil {
		c.t.Fatal(err)
	}
	res := c.runRemediator(victim)
	if res.Outcome == remediate.OutcomeAlreadyComplete { // the rerun ended the workflow first
		c.remediatorLeftAlone(res, remediate.OutcomeAlreadyComplete)
	} else {
		c.remediatorLeftAlone(res, remediate.OutcomeRerunByArgo, "pod-replaced", "node-pending")
	}
	wf, _ := c.awaitPhase(c.exp.Phase)
	c.t.Logf("rerun pod uid %s replaced %s; remediator %s (%s)", rerun.PodUID, victim.PodUID, res.Outcome, res.Reason)
	c.safe(victim, remediate.Result{})
	c.outputsIntact(wf)
}

// racy: whichever way the controller's race went, check it in full.
func (c check) racy(victim Timeline) {
	c.awaitNodeEnded(victim)
	if c.k.StaysRunning(context.Background(), window) == nil {
		c.t.Logf("racy upstream: this run stuck over the %s window", window)
		c.stuck(victim, false)
		return
	}
	c.t.Log("racy upstream: this run ended on its own")
	c.ends(victim)
}

// rerunsOrEnds: whichever the controller did first, re-create the victim's
// pod or end the workflow Error on its own, check it in full.
func (c check) rerunsOrEnds(victim Timeline) {
	if c.rerun(victim) {
		c.reruns(victim)
		return
	}
	c.t.Log("the controller ended the workflow on its own instead of rerunning the step")
	c.ends(victim, endedPhases...)
}

// endedPhases: where the controller ends a workflow instead of rerunning
// its deleted pod, the node is Error "pod deleted", or Failed "OOMKilled"
// when the controller saw the pod's failure before its deletion (seen on
// v3.7.18 in one run of two).
var endedPhases = []wfv1.WorkflowPhase{wfv1.WorkflowError, wfv1.WorkflowFailed}

// earlyRun: the remediator started at main's OOM, inside the controller's
// window, while the wait container was still alive. Whatever the controller
// then did (the expectation lists what it can reach), the remediator's run
// must match it: a rescue written only after the wait container ended when
// the workflow is stuck, no write when the controller ended it or reran the
// step.
func (c check) earlyRun(victim Timeline) {
	res := c.receive()
	c.t.Logf("early remediator (started at the OOM, %s before the wait container's end): %s (%s), wrote %v",
		victim.WaitEnding.Sub(victim.OOM).Round(time.Millisecond), res.Outcome, res.Reason, res.Wrote())
	switch c.exp.Upstream {
	case Stuck:
		c.rescued(victim, res)
	case Ends:
		c.endedAlone(victim, res, c.exp.Phase)
	case Racy:
		if res.Wrote() {
			c.t.Log("racy upstream: the remediator rescued it before the controller ended it")
			c.rescued(victim, res)
			return
		}
		c.t.Log("racy upstream: the controller ended it on its own")
		c.endedAlone(victim, res, c.exp.Phase)
	case Reruns:
		c.rerunLeftAlone(victim, res)
	case RerunsOrEnds:
		if c.rerun(victim) {
			c.rerunLeftAlone(victim, res)
			return
		}
		c.t.Log("the controller ended the workflow on its own instead of rerunning the step")
		c.endedAlone(victim, res, endedPhases...)
	default:
		c.t.Fatalf("no early check for upstream %s", c.exp.Upstream)
	}
}

// rescued: the early run wrote the fix, after the wait's end; the workflow
// ends.
func (c check) rescued(victim Timeline, res remediate.Result) {
	if res.Outcome != remediate.OutcomeRemediated || res.Action != c.exp.Action {
		c.t.Fatalf("remediator: %s, action %q (%s); want remediated, %q", res.Outcome, res.Action, res.Reason, c.exp.Action)
	}
	wf, at := c.awaitPhase(c.exp.Phase)
	c.t.Logf("remediated %.1fs after the wait container's end (%s, %s); the workflow was %s %.1fs after the write",
		res.Acted.Sub(victim.WaitEnding).Seconds(), res.Action, res.Reason, wf.Status.Phase, at.Sub(res.Acted).Seconds())
	c.safe(victim, res)
	c.outputsIntact(wf)
}

// endedAlone: the controller ended the workflow (or completed the task
// result) on its own; the early run wrote nothing.
//
// Not stuck may be for a complete task result, or for none at all: v3.7.18
// deletes the task results of a completed workflow, which the run may read
// between the workflow's last Running state and its end (seen once).
func (c check) endedAlone(victim Timeline, res remediate.Result, phases ...wfv1.WorkflowPhase) {
	notStuck := res.Outcome == remediate.OutcomeNotStuck &&
		(res.Reason == decide.ReasonTaskResultComplete || res.Reason == decide.ReasonNothingPending)
	if res.Wrote() || (res.Outcome != remediate.OutcomeAlreadyComplete && !notStuck) {
		c.t.Errorf("remediator: %s (%s), wrote %v; want already-complete or not-stuck (task-result-complete, nothing-pending), no write", res.Outcome, res.Reason, res.Wrote())
	}
	wf, _ := c.awaitPhaseIn(phases...)
	c.safe(victim, remediate.Result{})
	c.outputsIntact(wf)
}

// rerunLeftAlone: the controller re-created the pod; the early run, which
// the first pod triggered, wrote nothing.
func (c check) rerunLeftAlone(victim Timeline, res remediate.Result) {
	if _, err := c.k.Player.Await(context.Background(), settle, "the re-created pod", func(tl Timeline) bool {
		return tl.NodeID == victim.NodeID && tl.Attempt > 1
	}); err != nil {
		c.t.Fatal(err)
	}
	c.remediatorLeftAlone(res, remediate.OutcomeRerunByArgo, "pod-replaced", "node-pending")
	wf, _ := c.awaitPhase(c.exp.Phase)
	c.safe(victim, remediate.Result{})
	c.outputsIntact(wf)
}

// rerun tells whether the controller re-created the victim's pod, waiting
// for the workflow's terminal phase or the re-created pod.
func (c check) rerun(victim Timeline) bool {
	seen := func() bool {
		for _, tl := range c.k.Player.Timelines() {
			if tl.NodeID == victim.NodeID && tl.Attempt > 1 {
				return true
			}
		}
		return false
	}
	if _, _, err := c.k.AwaitWorkflow(context.Background(), settle, "a re-created pod or the terminal phase", func(wf *wfv1.Workflow) bool {
		return seen() || wf.Status.Phase.Completed()
	}); err != nil {
		c.t.Fatal(err)
	}
	return seen()
}
