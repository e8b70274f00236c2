package remediate

import (
	"slices"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/wfstatus"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
)

// inputOf turns what was read and remembered, and the trigger's evidence,
// into the decision's input.
func inputOf(s snapshot, node wfv1.NodeStatus, known bool, t Target, mem *podMemory, grace time.Duration, now time.Time) decide.Input {
	nodeID := t.NodeID
	in := decide.Input{Grace: grace, Event: eventOf(t, mem)}
	switch {
	case !known:
		in.Node = decide.NodeOffloaded
	case node.Phase == wfv1.NodePending:
		in.Node = decide.NodePending
	case wfstatus.Finished(node):
		in.Node = decide.NodeCompleted
	default:
		in.Node = decide.NodeActive
	}
	switch {
	case !known:
		in.Sync = decide.SyncUnknown
	case node.TaskResultSynced != nil:
		// Written by a v3.7+ controller: it may rerun a vanished pod.
		in.Sync = decide.SyncTracked
	default:
		in.Sync = decide.SyncUntracked
	}
	if !node.StartedAt.IsZero() {
		in.SinceNodeStarted = now.Sub(node.StartedAt.Time)
	}
	switch {
	case s.tr == nil:
		in.TaskResult = decide.TaskResultMissing
	case s.tr.Labels[LabelCompleted] == "true":
		in.TaskResult = decide.TaskResultComplete
	default:
		in.TaskResult = decide.TaskResultIncomplete
	}
	if done, ok := s.wf.Completion[nodeID]; !ok {
		in.Entry = decide.EntryAbsent
	} else if done {
		in.Entry = decide.EntryComplete
	} else {
		in.Entry = decide.EntryIncomplete
	}
	in.Pod, in.SinceWaitAlive = mem.state(node.FinishedAt.Time, now)
	return in
}

// eventOf gives the decision the trigger's evidence, only when it is about
// the pod the run follows: the trigger named the pod's UID and the run
// follows that pod (podMemory starts from it, and a pod of another UID
// turns into PodReplaced, on which the decision never writes).
func eventOf(t Target, mem *podMemory) decide.Event {
	if t.Wait.Terminated && t.PodUID != "" && mem.uid == t.PodUID {
		return decide.EventWaitTerminated
	}
	return decide.EventSilent
}

// remediatedBefore tells whether a run of the remediator completed or
// created this task result.
func remediatedBefore(tr *wfv1.WorkflowTaskResult) bool {
	return tr != nil && tr.Labels[LabelCompleted] == "true" && tr.Annotations[AnnotationRemediatedAt] != ""
}

// markPrevious reports the write of an earlier run as this run's.
func (res *Result) markPrevious(tr *wfv1.WorkflowTaskResult) {
	res.Previously = true
	res.Reason = decide.Reason(tr.Annotations[AnnotationReason])
	if at, err := time.Parse(time.RFC3339, tr.Annotations[AnnotationRemediatedAt]); err == nil {
		res.Acted = at
	}
	res.Action = tr.Annotations[AnnotationAction]
}

func (res *Result) fromWorkflow(wf *wfstatus.Workflow) {
	res.WorkflowUID = string(wf.UID)
	res.WorkflowPhase = string(wf.Phase)
	res.WorkflowFinished = wf.FinishedAt
}

// blocks tells whether the workflow's entry for the node is false: the
// controller will not complete the workflow until it turns true.
func blocks(wf *wfstatus.Workflow, nodeID string) bool {
	done, ok := wf.Completion[nodeID]
	return ok && !done
}

// heldBy lists the nodes whose false entry holds the workflow, sorted.
func heldBy(wf *wfstatus.Workflow) []string {
	var ids []string
	for id, done := range wf.Completion {
		if !done {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (res *Result) fromNode(node wfv1.NodeStatus, mem *podMemory) {
	res.NodeName = node.DisplayName
	res.NodePhase = string(node.Phase)
	res.NodeMessage = node.Message
	res.NodeFinished = node.FinishedAt.Time
	res.Template = node.TemplateName
	res.PodUID = mem.uid
	if mem.hostNode != "" {
		res.HostNode = mem.hostNode
	}
	if mem.containers != nil {
		res.Containers = mem.containers
	}
}

// Assess builds the decision's input from objects read elsewhere (the sweep
// reads them in bulk). pod is nil when the node has no pod; node is the
// workflow's node, known false when the object does not hold it (offloaded).
func Assess(wf *wfstatus.Workflow, node wfv1.NodeStatus, known bool, tr *wfv1.WorkflowTaskResult, pod *corev1.Pod, nodeID string, grace time.Duration, now time.Time) decide.Input {
	var mem podMemory
	mem.observe(pod, now)
	return inputOf(snapshot{wf: wf, tr: tr, pod: pod}, node, known, Target{NodeID: nodeID}, &mem, grace, now)
}
