package remediate

import (
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
)

// Target names the node to rescue.
type Target struct {
	Namespace string
	Workflow  string
	NodeID    string
	// PodName is the pod that ran the node; empty: found by the node-id
	// annotation among the workflow's pods.
	PodName string
	// PodUID is the UID of the pod that triggered the run, when known.
	PodUID string
	// Trigger says why the run started: OOMKilled, deleted, manual, ...
	Trigger string
	// Wait is what the triggering event showed of the wait container of
	// pod PodUID. It counts only for that pod: without a PodUID, or once a
	// pod of another UID runs the node, it proves nothing.
	Wait WaitEvidence
}

// WaitEvidence is what an event showed of a pod's wait container.
type WaitEvidence struct {
	// Terminated: the event showed it terminated (a workflow pod never
	// restarts containers, so it can no longer write).
	Terminated bool
	// ExitCode and FinishedAt are the terminated state's, for the record.
	ExitCode   int32
	FinishedAt time.Time
}

// Options tune a Remediator.
type Options struct {
	// Grace is how long a vanished pod's containers may outlive it.
	Grace time.Duration
	// Deadline bounds the wait until it is safe to act.
	Deadline time.Duration
	// VerifyTimeout bounds the watch of the workflow after the fix.
	VerifyTimeout time.Duration
	DryRun        bool
	Nudge         bool
	// Identity is written in the remediated-by annotation and in Events.
	Identity string
}

// Outcome is the final word of a run; it names the CloudEvent type.
type Outcome string

// Outcomes of a run.
const (
	// OutcomeRemediated: the task result was completed (by this run or an
	// earlier one) and the controller took it into account.
	OutcomeRemediated Outcome = "remediated"
	// OutcomeRemediatedUnverified: written, but the workflow was not seen
	// to move on within the verify timeout.
	OutcomeRemediatedUnverified Outcome = "remediated-unverified"
	// OutcomeWouldRemediate: dry-run; the write that would have been done.
	OutcomeWouldRemediate Outcome = "would-remediate"
	// OutcomeNotStuck: nothing blocks the workflow on this node.
	OutcomeNotStuck Outcome = "not-stuck"
	// OutcomeRerunByArgo: the pod this run was triggered by ended and Argo
	// re-created it, or put its node back to Pending (v3.7+ and v4 when the
	// pod vanished before the controller saw wait end): the step reruns,
	// with the same resources, so an OOM may repeat. Nothing is written;
	// the outcome is reported so that the rerun does not go unseen.
	OutcomeRerunByArgo Outcome = "rerun-by-argo"
	// OutcomeWorkflowGone: the Workflow does not exist.
	OutcomeWorkflowGone Outcome = "workflow-gone"
	// OutcomeAlreadyComplete: the Workflow had already completed.
	OutcomeAlreadyComplete Outcome = "already-complete"
	// OutcomeNodeUnknown: the Workflow has no such node.
	OutcomeNodeUnknown Outcome = "node-unknown"
	// OutcomeNodesUnreadable: the workflow's nodes could not be read (a
	// corrupt status.compressedNodes); nothing was written and the workflow
	// may stay stuck.
	OutcomeNodesUnreadable Outcome = "nodes-unreadable"
	// OutcomeDeadlineExceeded: still not safe to act when the deadline came;
	// nothing was written.
	OutcomeDeadlineExceeded Outcome = "deadline-exceeded"
)

// ReasonNoStuckNode explains a workflow-wide run that found nothing to do.
const ReasonNoStuckNode decide.Reason = "no-stuck-node"

// Container is what the pod showed of one container.
type Container struct {
	Name        string `json:"name"`
	ExitCode    *int32 `json:"exitCode,omitempty"`
	Reason      string `json:"reason,omitempty"`
	MemoryLimit string `json:"memoryLimit,omitempty"`
	// MemoryRequest is the container's memory request, when set.
	MemoryRequest string `json:"memoryRequest,omitempty"`
}

// Result describes a run: what was found and what was done.
type Result struct {
	Target  Target
	Outcome Outcome
	// Action is what was done or, in dry-run, would have been done:
	// complete, create, or empty.
	Action string
	// Reason is the last decision's reason.
	Reason      decide.Reason
	WorkflowUID string
	NodeName    string
	NodePhase   string
	NodeMessage string
	// Template is the node's template name; HostNode the Kubernetes node
	// its pod ran on (when the pod was seen).
	Template     string
	HostNode     string
	PodUID       string
	Containers   []Container
	Started      time.Time
	Acted        time.Time // zero when nothing was written
	Waited       time.Duration
	NodeFinished time.Time
	// WorkflowPhase is the last phase seen; WorkflowFinished its finish time.
	WorkflowPhase    string
	WorkflowFinished time.Time
	// NodesStorage says where the workflow keeps its nodes: inline,
	// compressed or offloaded (wfstatus.Storage).
	NodesStorage string
	// Err says why the nodes could not be read (OutcomeNodesUnreadable).
	Err string
	// Stuck is set when the run ends with the workflow still held by a
	// false task result entry it could do nothing about; a Warning Event
	// says why and the process exits non-zero.
	Stuck bool
	// Previously is true when an earlier run had already written the fix;
	// this run reports the same outcome.
	Previously bool
	// ChainRoot is the first workflow of the resubmit chain the workflow
	// belongs to (LabelChainRoot); empty when it was not resubmitted.
	ChainRoot string
}

// Wrote tells whether the run wrote the task result.
func (r Result) Wrote() bool { return !r.Acted.IsZero() }
