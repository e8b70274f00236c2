package app

import (
	"context"
	"fmt"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/resubmit"
)

// resubmitter is the opt-in resubmit of `remediator watch`
// (REMEDIATOR_RESUBMIT); nil when it is off.
func (r *runner) resubmitter() *resubmit.Follower {
	if !r.cfg.Resubmit.Value {
		return nil
	}
	return &resubmit.Follower{
		Resubmitter: &resubmit.Resubmitter{
			Argo: r.deps.Argo, Kube: r.deps.Kube, Log: r.deps.Log,
			Limits: resubmit.Limits{MaxMemory: r.cfg.ResubmitMaxMemory.Value, MaxAttempts: r.cfg.ResubmitMaxAttempts.Value},
		},
		Namespace: r.cfg.Namespace, Report: r.reportChain, Log: r.deps.Log,
	}
}

// reportChain sends a resubmit report's CloudEvent; a failed delivery is
// logged, recorded on the workflow and counted like a run's.
func (r *runner) reportChain(ctx context.Context, rep resubmit.Report) {
	cr := chainReport(rep, r.cfg.ResubmitMaxAttempts.Value, r.cfg.ResubmitMaxMemory.Value.String())
	r.deps.Log.Info("resubmit: "+rep.Kind, "namespace", cr.Namespace, "workflow", cr.Workflow, "phase", cr.WorkflowPhase,
		"next", cr.Chain.Next, "memory", cr.Chain.NewMemoryLimit, "reason", cr.Chain.Reason, "attempt", cr.Chain.Attempt)
	if r.watching != nil {
		r.watching.m.Resubmits.WithLabelValues(cr.Namespace, resubmitOutcome(rep)).Inc()
	}
	ev, err := notify.BuildChain(cr, notify.Meta{Cluster: r.cfg.ClusterName, UIBase: r.cfg.ArgoUIURL}, r.deps.Clock.Now())
	if err == nil {
		err = r.sender.Send(ctx, ev)
	}
	if err == nil {
		return
	}
	r.deps.Log.Error("notification failed", "namespace", cr.Namespace, "workflow", cr.Workflow, "outcome", cr.Outcome, "error", err)
	r.rec.Record(ctx, remediate.WorkflowRef{Namespace: cr.Namespace, Name: cr.Workflow, UID: cr.WorkflowUID, Trigger: notify.TriggerResubmit},
		true, "NotificationFailed", fmt.Sprintf("%s: the CloudEvent was not delivered: %v", cr.Outcome, err))
}

// chainReport is what the notification says of rep.
func chainReport(rep resubmit.Report, maxAttempts int, maxMemory string) notify.ChainReport {
	wf, d := rep.Workflow, rep.Decision
	cr := notify.ChainReport{
		Outcome: rep.Kind, Namespace: wf.Namespace, Workflow: wf.Name, WorkflowUID: string(wf.UID),
		WorkflowPhase: string(wf.Status.Phase), NodeID: d.Node, NodeName: d.NodeName,
		Chain: notify.Chain{
			Root: d.Root, Attempt: d.Attempt, MaxAttempts: maxAttempts, Template: d.Template, Container: d.Container,
			MaxMemory: maxMemory, Reason: d.Reason, Created: rep.Created, Previous: wf.Annotations[resubmit.AnnotationPrevious],
		},
	}
	if n, ok := wf.Status.Nodes[d.Node]; ok {
		cr.NodeMessage = n.Message
	}
	if !d.OldLimit.IsZero() {
		cr.Chain.MemoryLimit = d.OldLimit.String()
	}
	if rep.Kind == resubmit.KindEnded {
		// The memory this attempt ran with.
		cr.Chain.MemoryLimit = wf.Annotations[resubmit.AnnotationMemory]
		cr.Chain.Template = wf.Annotations[resubmit.AnnotationTemplate]
	}
	if rep.Kind == resubmit.KindResubmitted {
		cr.Chain.Previous, cr.Chain.Next = wf.Name, d.Name
		cr.Chain.NewMemoryLimit = d.NewLimit.String()
		if d.NewRequest != nil {
			cr.Chain.NewMemoryRequest = d.NewRequest.String()
		}
	}
	return cr
}

// resubmitOutcome is the metrics' outcome of a report.
func resubmitOutcome(rep resubmit.Report) string {
	switch {
	case rep.Kind == resubmit.KindResubmitted:
		return "resubmitted"
	case rep.Kind == resubmit.KindStopped:
		return "stopped"
	case rep.Workflow.Status.Phase == "Succeeded":
		return "succeeded"
	}
	return "failed"
}
