package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/argo"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// loweredVersions are the current controllers the alternative is checked
// on in `make test` (the benchmark covers every v3.7.1+ version).
var loweredVersions = []string{"v3.7.18", "v4.0.5"}

// TestLoweredTimeouts runs the zero-install alternative, no remediator and
// the controller's TASK_RESULT_TIMEOUT_DURATION and
// RECENTLY_DELETED_POD_DURATION lowered to argo.LoweredTimeout, on the
// scenarios that set it apart:
//   - 13-wait-exits-unfinalized, which stalls for 10 min by default: what
//     the lowered timeouts do to it (see loweredEndsStall);
//   - the slow uploads (11, 12), where the wait container reports its
//     outputs after the lowered timeout: the case records what became of
//     them, accepting every outcome the controller can reach (the step
//     reran; the workflow ended after the wait's report, outputs kept; or
//     before it, outputs lost), and fails only on an inconsistent one
//     (outputs lost from a workflow that ended after they were reported,
//     or a pod-kept workflow ending before its wait did: the controller
//     holds such a node Running).
func TestLoweredTimeouts(t *testing.T) {
	for _, name := range []string{"11-slow-upload-pod-kept", "12-slow-upload-pod-deleted", "13-wait-exits-unfinalized"} {
		s, ok := ScenarioNamed(name)
		if !ok {
			t.Fatalf("no scenario %s", name)
		}
		for _, v := range loweredVersions {
			t.Run(name+"/"+v, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				k, err := StartCase(ctx, env, v, s, logDir, Hooks{}, argo.LoweredTimeoutsEnv(argo.LoweredTimeout)...)
				if k != nil {
					t.Cleanup(k.Close)
				}
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if t.Failed() {
						t.Logf("state: %s; controller log: %s", k.Describe(ctx), k.Ctl.LogPath)
					}
				})
				if s.Fate == OOMWaitExitsUnfinalized {
					loweredEndsStall(t, k)
					return
				}
				loweredUpload(t, k)
			})
		}
	}
}

// loweredEndsStall: what the lowered timeouts do to the stall that lasts
// TASK_RESULT_TIMEOUT_DURATION upstream. Measured (2026-12-04): v3.7.18
// ended it Failed at once (the finishedAt race of whyUnfinalizedV37);
// v4.0.5 was still Running 45 s after the node failed — its check requeues
// the workflow, but no reconcile followed. So the case gives the
// controller stallBound and records which it was; what it checks is that
// an end is the right one: Failed, the victim's entry complete.
func loweredEndsStall(t *testing.T, k *Case) {
	ctx := context.Background()
	victim, err := k.Player.VictimDone(ctx, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, failed, err := k.AwaitWorkflow(ctx, settle, "the victim node to fail", func(wf *wfv1.Workflow) bool {
		n, ok := wf.Status.Nodes[victim.NodeID]
		return ok && n.Phase.FailedOrError()
	})
	if err != nil {
		t.Fatal(err)
	}
	wf, at, err := k.AwaitWorkflow(ctx, stallBound, "the terminal phase", func(wf *wfv1.Workflow) bool { return wf.Status.Phase.Completed() })
	if err != nil {
		t.Logf("lowered timeouts (%s): the stall did NOT end within %s of the node's failure (%s)", argo.LoweredTimeout, stallBound, k.Describe(ctx))
		return
	}
	if wf.Status.Phase != wfv1.WorkflowFailed {
		t.Errorf("the workflow ended %s, want Failed: %s", wf.Status.Phase, describe(wf))
	}
	if done, ok := wf.Status.TaskResultsCompletionStatus[victim.NodeID]; ok && !done {
		t.Errorf("the workflow ended with the victim's entry still false: %s", describe(wf))
	}
	t.Logf("lowered timeouts (%s): the stall ended %s, %.1fs after the node failed, %.1fs after the OOM",
		argo.LoweredTimeout, wf.Status.Phase, at.Sub(failed).Seconds(), at.Sub(victim.OOM).Seconds())
}

// stallBound is how long loweredEndsStall gives the controller after the
// node failed: the lowered timeout and three of its 10 s requeues.
const stallBound = argo.LoweredTimeout + 3*10*time.Second

// loweredUpload: what the lowered timeouts did to outputs reported late.
func loweredUpload(t *testing.T, k *Case) {
	ctx := context.Background()
	wf, ended, err := k.AwaitWorkflow(ctx, settle+SlowUpload, "the terminal phase", func(wf *wfv1.Workflow) bool { return wf.Status.Phase.Completed() })
	if err != nil {
		t.Fatal(err)
	}
	victim, err := k.Player.VictimDone(ctx, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := k.OutputsKept(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	reran := false
	for _, tl := range k.Player.Timelines() {
		reran = reran || (tl.NodeID == victim.NodeID && tl.Attempt > 1)
	}
	before := ended.Before(victim.WaitEnding)
	outcome := LoweredOutcome(reran, before, kept)
	t.Logf("lowered timeouts (%s): %s; the workflow ended %s %.1fs after the OOM, the wait reported its outputs %.1fs after the OOM",
		argo.LoweredTimeout, outcome, wf.Status.Phase, ended.Sub(victim.OOM).Seconds(), victim.WaitEnding.Sub(victim.OOM).Seconds())
	switch {
	case k.Scenario.Fate == OOMWaitFinishes && (before || reran):
		t.Errorf("the pod stayed with its wait container running, yet: %s", outcome)
	case !before && !kept:
		t.Errorf("the workflow ended after the wait reported its outputs but lost them: %s", describe(wf))
	}
	if err := k.Player.Err(); err != nil {
		t.Error(err)
	}
}
