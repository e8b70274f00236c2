package e2e

import (
	"fmt"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// Upstream is what a controller version does with a scenario on its own.
type Upstream int

const (
	// Stuck: the victim node ends but the workflow stays Running over the
	// observation window (the bug); the remediator must end it.
	Stuck Upstream = iota
	// Ends: the workflow reaches its terminal phase on its own; the
	// remediator, run afterwards, finds it complete and writes nothing.
	Ends
	// Reruns: the controller re-creates the deleted pod and runs the step
	// again (Argo v3.7); the remediator must leave the rerun alone.
	Reruns
	// NotStuck: nothing is wrong (healthy step, or a wait container that
	// finishes its outputs); the remediator, started early, waits and
	// writes nothing.
	NotStuck
	// Racy: a race inside the controller decides between Ends and Stuck
	// (Why says which); the case checks whichever happened, in full.
	Racy
	// RerunsOrEnds: a race inside the controller decides between Reruns
	// (then Phase) and ending the workflow Error on its own; the case
	// checks whichever happened, in full.
	RerunsOrEnds
)

func (u Upstream) String() string {
	return [...]string{"stuck", "ends", "reruns", "not-stuck", "racy", "reruns-or-ends"}[u]
}

// Expectation is what a scenario leads to on one controller version.
type Expectation struct {
	Upstream Upstream
	// Phase is the workflow's terminal phase (with the remediator where
	// Upstream is Stuck).
	Phase wfv1.WorkflowPhase
	// Action is what the remediator writes where Upstream is Stuck:
	// "complete" (flip the label) or "create" (legacy path).
	Action string
	// Why: the code path or the measurement behind the expectation.
	Why string
}

// Reasons shared by several rows.
const (
	whyGate               = "markWorkflowPhase refuses to complete while taskResultsCompletionStatus has a false entry; v3.5.8 has no escape"
	whyTwoMinutes         = "the controller completes a false task result of a node whose pod is gone only 2 min after the node finished (#13798): stuck over the window"
	whyWaitExit           = "the controller saw the wait container terminated non-zero and marked the task result complete (#13491), in the same reconcile as the node"
	whyRerun              = "v3.7 counts a node whose task result is not synced as unfinished: the missing pod is re-created and the step reruns (the rerun pod succeeds here)"
	whyControl            = "no false entry, nothing gates completion: the node ends Error \"pod deleted\" and the workflow with it"
	whyHealthy            = "healthy step: the remediator sees a running node, then a complete task result"
	whyWaitSaves          = "wait still runs, so the node stays Running; the executor reports the output and exits 0: the remediator waits and writes nothing"
	whyLegacy35           = "the v3.5 controller copies the pod annotation report-outputs-completed=false into the status entry; with the pod gone no task result exists for any escape to act on"
	whyLegacyGone         = "v3.6+ ignores the legacy pod annotation (the constant is gone): the bug cannot be reproduced, the workflow fails normally"
	whyV37Unsynced        = "v3.7 marks the entry complete on the wait's exit 137 but leaves the node unsynced in that pass; the workflow ends only if another event requeues it (the reference: 10 s in ~65% of runs, else ~300 s, until a watch restarts); with the pod kept nothing else happens"
	whyDAGTwoMin          = whyTwoMinutes + "; only the one DAG task is held, the two others succeed with their outputs"
	whyRerunRace          = whyRerun + "; under load the controller sometimes marks the node Error \"pod deleted\" and ends the workflow Error before it re-creates the pod (seen on a loaded 2-core machine): both leave nothing stuck"
	whyCompressed         = "; with the nodes in status.compressedNodes the controller behaves as with them inline"
	whyV4WaitExitThenGone = "v4.0.5 marks the entry complete on the wait's exit 137 but, as v3.7 with the pod kept, does not end the workflow in that pass; the next reconcile (10 s later) finds the pod deleted 5 s after the node failed and ends node and workflow Error \"pod deleted\" (measured: workflow terminal ~20 s after the OOM)"
	whyProofTime          = "; on v3.5/v3.6 (nodes without taskResultSynced) the remediator writes as soon as it sees the wait terminated, before the node settles (docs/proof-time.md): it or the controller's own reconcile completes the entry first"
	whyEarly              = "; the remediator, started at main's OOM while wait lives on, waits for the wait's end"
	whySlowUploadKept     = "the controller keeps the node Running while the pod's wait container runs (assessNodeStatus: \"wait container is not yet terminated\"), so no timeout starts; wait reports its output after SlowUpload and exits 0: the remediator waits and writes nothing"
	whySlowUploadGone     = "the pod vanishes while wait uploads: the node ends Error \"pod deleted\" with its task result false, and no escape fires before the wait reports its output SlowUpload later (2 min on v3.5.12+/v3.6); the workflow then ends with the output; the remediator's grace (30 s) outlasts the upload: it writes nothing"
	whyUnfinalized        = "wait exited 0 without finalizing (#14568): no version completes the entry on a zero exit; with the pod kept, v3.5.x/v3.6 never end, v3.7.1+/v4 only after TASK_RESULT_TIMEOUT_DURATION (10 min); the remediator proves the wait's end from the pod status"
	whyUnfinalizedV37     = whyUnfinalized + "; but v3.7 sometimes completes the entry in the reconcile right after the node fails (\"Marking task result as completed because pod has been deleted for a while\" 30 ms after \"Pod failed\", the pod still there): its timeout check reads the node's finishedAt before it is set, and a zero time is long ago (seen on v3.7.3 in the matrix and v3.7.18 under lowered timeouts, 2026-12-04)"
)

// Expectations are the rows of the matrix: scenario name → version →
// expectation. They come from the reference notes and from runs on the
// real controllers (docs/benchmarks.md); where they differ from the
// reference, Why says so.
var Expectations = map[string]map[string]Expectation{
	"1-oom-deleted-at-once": {
		"v3.5.8":  {Stuck, wfv1.WorkflowError, "complete", whyGate},
		"v3.5.13": {Stuck, wfv1.WorkflowError, "complete", whyTwoMinutes},
		"v3.6.15": {Stuck, wfv1.WorkflowError, "complete", whyTwoMinutes},
		"v3.7.3":  {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace},
		"v3.7.18": {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace},
		"v4.0.5":  {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace},
	},
	"2-oom-deleted-after-failed": {
		"v3.5.8":  {Stuck, wfv1.WorkflowFailed, "complete", whyGate},
		"v3.5.13": {Ends, wfv1.WorkflowFailed, "", whyWaitExit + "; the reference measured ~125 s after the deletion, but there the pod went before the controller saw the wait's exit"},
		"v3.6.15": {Ends, wfv1.WorkflowFailed, "", whyWaitExit + "; see v3.5.13"},
		"v3.7.3":  {Ends, wfv1.WorkflowFailed, "", whyWaitExit},
		"v3.7.18": {Ends, wfv1.WorkflowFailed, "", whyWaitExit},
		"v4.0.5":  {Ends, wfv1.WorkflowError, "", whyV4WaitExitThenGone},
	},
	"3-oom-pod-kept": {
		"v3.5.8":  {Stuck, wfv1.WorkflowFailed, "complete", whyGate},
		"v3.5.13": {Ends, wfv1.WorkflowFailed, "", whyWaitExit},
		"v3.6.15": {Ends, wfv1.WorkflowFailed, "", whyWaitExit},
		"v3.7.3":  {Racy, wfv1.WorkflowFailed, "complete", whyV37Unsynced},
		"v3.7.18": {Racy, wfv1.WorkflowFailed, "complete", whyV37Unsynced},
		"v4.0.5":  {Racy, wfv1.WorkflowFailed, "complete", whyV37Unsynced},
	},
	"4-wait-finishes-with-outputs": {
		"v3.5.8":  {NotStuck, wfv1.WorkflowFailed, "", whyWaitSaves},
		"v3.5.13": {NotStuck, wfv1.WorkflowFailed, "", whyWaitSaves},
		"v3.6.15": {NotStuck, wfv1.WorkflowFailed, "", whyWaitSaves},
		"v3.7.3":  {NotStuck, wfv1.WorkflowFailed, "", whyWaitSaves},
		"v3.7.18": {NotStuck, wfv1.WorkflowFailed, "", whyWaitSaves},
		"v4.0.5":  {NotStuck, wfv1.WorkflowFailed, "", whyWaitSaves},
	},
	"5-legacy-annotation": {
		"v3.5.8":  {Stuck, wfv1.WorkflowError, "create", whyLegacy35},
		"v3.5.13": {Stuck, wfv1.WorkflowError, "create", whyLegacy35},
		"v3.6.15": {Ends, wfv1.WorkflowError, "", whyLegacyGone},
		"v3.7.3":  {Ends, wfv1.WorkflowError, "", whyLegacyGone},
		"v3.7.18": {Ends, wfv1.WorkflowError, "", whyLegacyGone},
		"v4.0.5":  {Ends, wfv1.WorkflowError, "", whyLegacyGone},
	},
	// The DAG ends Error, not Failed: its failed task is Error "pod deleted".
	"6-dag-one-of-three-oom": {
		"v3.5.8":  {Stuck, wfv1.WorkflowError, "complete", whyGate},
		"v3.5.13": {Stuck, wfv1.WorkflowError, "complete", whyDAGTwoMin},
		"v3.6.15": {Stuck, wfv1.WorkflowError, "complete", whyDAGTwoMin},
		"v3.7.3":  {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace},
		"v3.7.18": {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace},
		"v4.0.5":  {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace},
	},
	// As scenario 6, with the status compressed: the remediator must read
	// the victim's node from status.compressedNodes.
	"8-dag-compressed": {
		"v3.5.8":  {Stuck, wfv1.WorkflowError, "complete", whyGate + whyCompressed},
		"v3.5.13": {Stuck, wfv1.WorkflowError, "complete", whyDAGTwoMin + whyCompressed},
		"v3.6.15": {Stuck, wfv1.WorkflowError, "complete", whyDAGTwoMin + whyCompressed},
		"v3.7.3":  {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace + whyCompressed},
		"v3.7.18": {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace + whyCompressed},
		"v4.0.5":  {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace + whyCompressed},
	},
	// Issue 16: the remediator starts at main's OOM, inside the window,
	// while wait runs WaitLinger longer; it must write only after the
	// wait's end (and the grace of the vanished pod).
	"9-early-oom-deleted": {
		"v3.5.8":  {Stuck, wfv1.WorkflowError, "complete", whyGate + whyEarly},
		"v3.5.13": {Stuck, wfv1.WorkflowError, "complete", whyTwoMinutes + whyEarly},
		"v3.6.15": {Stuck, wfv1.WorkflowError, "complete", whyTwoMinutes + whyEarly},
		"v3.7.3":  {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace + whyEarly},
		"v3.7.18": {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace + whyEarly},
		"v4.0.5":  {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace + whyEarly},
	},
	"10-early-oom-pod-kept": {
		"v3.5.8":  {Stuck, wfv1.WorkflowFailed, "complete", whyGate + whyEarly},
		"v3.5.13": {Racy, wfv1.WorkflowFailed, "complete", whyWaitExit + whyEarly + whyProofTime},
		"v3.6.15": {Racy, wfv1.WorkflowFailed, "complete", whyWaitExit + whyEarly + whyProofTime},
		"v3.7.3":  {Racy, wfv1.WorkflowFailed, "complete", whyV37Unsynced + whyEarly},
		"v3.7.18": {Racy, wfv1.WorkflowFailed, "complete", whyV37Unsynced + whyEarly},
		"v4.0.5":  {Racy, wfv1.WorkflowFailed, "complete", whyV37Unsynced + whyEarly},
	},
	"7-healthy": {
		"v3.5.8":  {NotStuck, wfv1.WorkflowSucceeded, "", whyHealthy},
		"v3.5.13": {NotStuck, wfv1.WorkflowSucceeded, "", whyHealthy},
		"v3.6.15": {NotStuck, wfv1.WorkflowSucceeded, "", whyHealthy},
		"v3.7.3":  {NotStuck, wfv1.WorkflowSucceeded, "", whyHealthy},
		"v3.7.18": {NotStuck, wfv1.WorkflowSucceeded, "", whyHealthy},
		"v4.0.5":  {NotStuck, wfv1.WorkflowSucceeded, "", whyHealthy},
	},
	// Issue 13: the wait container uploads longer than the alternative's
	// lowered timeouts (TestLoweredTimeouts measures what those do).
	"11-slow-upload-pod-kept": {
		"v3.5.8":  {NotStuck, wfv1.WorkflowFailed, "", whySlowUploadKept},
		"v3.5.13": {NotStuck, wfv1.WorkflowFailed, "", whySlowUploadKept},
		"v3.6.15": {NotStuck, wfv1.WorkflowFailed, "", whySlowUploadKept},
		"v3.7.3":  {NotStuck, wfv1.WorkflowFailed, "", whySlowUploadKept},
		"v3.7.18": {NotStuck, wfv1.WorkflowFailed, "", whySlowUploadKept},
		"v4.0.5":  {NotStuck, wfv1.WorkflowFailed, "", whySlowUploadKept},
	},
	"12-slow-upload-pod-deleted": {
		"v3.5.8":  {NotStuck, wfv1.WorkflowError, "", whySlowUploadGone},
		"v3.5.13": {NotStuck, wfv1.WorkflowError, "", whySlowUploadGone},
		"v3.6.15": {NotStuck, wfv1.WorkflowError, "", whySlowUploadGone},
		"v3.7.3":  {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace + "; " + whySlowUploadGone},
		"v3.7.18": {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace + "; " + whySlowUploadGone},
		"v4.0.5":  {RerunsOrEnds, wfv1.WorkflowSucceeded, "", whyRerunRace + "; " + whySlowUploadGone},
	},
	"13-wait-exits-unfinalized": {
		"v3.5.8":  {Stuck, wfv1.WorkflowFailed, "complete", whyUnfinalized},
		"v3.5.13": {Stuck, wfv1.WorkflowFailed, "complete", whyUnfinalized},
		"v3.6.15": {Stuck, wfv1.WorkflowFailed, "complete", whyUnfinalized},
		"v3.7.3":  {Racy, wfv1.WorkflowFailed, "complete", whyUnfinalizedV37},
		"v3.7.18": {Racy, wfv1.WorkflowFailed, "complete", whyUnfinalizedV37},
		"v4.0.5":  {Stuck, wfv1.WorkflowFailed, "complete", whyUnfinalized},
	},
	"control-no-task-result": {
		"v3.5.8":  {Ends, wfv1.WorkflowError, "", whyControl},
		"v3.5.13": {Ends, wfv1.WorkflowError, "", whyControl},
		"v3.6.15": {Ends, wfv1.WorkflowError, "", whyControl},
		"v3.7.3":  {Ends, wfv1.WorkflowError, "", whyControl},
		"v3.7.18": {Ends, wfv1.WorkflowError, "", whyControl},
		"v4.0.5":  {Ends, wfv1.WorkflowError, "", whyControl},
	},
}

// ExpectationFor returns the expectation of scenario s on version.
func ExpectationFor(version string, s Scenario) (Expectation, error) {
	e, ok := Expectations[s.Name][version]
	if !ok {
		return e, fmt.Errorf("e2e: no expectation for %s on %s", s.Name, version)
	}
	return e, nil
}
