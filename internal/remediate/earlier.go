package remediate

import (
	"context"
	"fmt"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// ReasonRemediatedEarlier is the reason of the Event a run records when it
// finds the fix already written by an earlier run.
const ReasonRemediatedEarlier = "RemediatedEarlier"

// recordEarlier records a Normal Event for a run that found the task result
// written by an earlier run (a Job retry, a duplicate trigger). Every run
// that ends remediated thus leaves one Event on the Workflow, also when the
// run that wrote was killed between its write and its own Event.
func (r *Remediator) recordEarlier(ctx context.Context, res Result, tr *wfv1.WorkflowTaskResult) {
	did := "completed"
	if res.Action == "create" {
		did = "created"
	}
	t := res.Target
	r.recorder.Record(ctx, res.ref(), false, ReasonRemediatedEarlier,
		fmt.Sprintf("WorkflowTaskResult %s was %s by an earlier run (%s at %s, %s); this run (%s) found it so",
			t.NodeID, did, tr.Annotations[AnnotationRemediatedBy], tr.Annotations[AnnotationRemediatedAt],
			tr.Annotations[AnnotationReason], t.Trigger))
}

// ReasonRerunByArgo is the reason of the Normal Event a run records when
// Argo reruns the step whose pod triggered it (OutcomeRerunByArgo).
const ReasonRerunByArgo = "StepRerunByArgo"

// recordRerun records OutcomeRerunByArgo on the Workflow.
func (r *Remediator) recordRerun(ctx context.Context, res Result) {
	t := res.Target
	r.log.Info("Argo reruns the step; nothing to do", "namespace", t.Namespace, "workflow", t.Workflow, "node", t.NodeID,
		"podUID", t.PodUID, "reason", res.Reason)
	r.recorder.Record(ctx, res.ref(), false, ReasonRerunByArgo,
		fmt.Sprintf("node %s: pod %s (UID %s) ended (%s) and Argo reruns the step (%s), with the same resources; nothing was written",
			t.NodeID, t.PodName, t.PodUID, t.Trigger, res.Reason))
}

// ReasonStuck is the reason of the Warning Event a run records when it ends
// with nothing done while the workflow is held by a false task result entry.
const ReasonStuck = "RemediationStuck"
