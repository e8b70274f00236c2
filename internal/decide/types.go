package decide

import (
	"fmt"
	"time"
)

// NodePhase is the coarse phase of the workflow node, as the decision sees it.
type NodePhase int

const (
	// NodeActive: the node has not finished (Running, or a phase the
	// controller has not settled yet).
	NodeActive NodePhase = iota
	// NodePending: the node waits for a pod. After a pod deletion, Argo v3.7
	// puts the node back to Pending and re-creates the pod: the step reruns.
	NodePending
	// NodeCompleted: Succeeded, Failed or Error.
	NodeCompleted
	// NodeOffloaded: the workflow's nodes are in the controller's database
	// (node status offloading), so the node's phase is not known. The
	// decision then rests on what proves safety by itself: the wait
	// container of this pod terminated, or the pod gone for the grace.
	NodeOffloaded
)

// TaskResult is the state of the WorkflowTaskResult named after the node ID.
type TaskResult int

const (
	// TaskResultMissing: no such object.
	TaskResultMissing TaskResult = iota
	// TaskResultIncomplete: the report-outputs-completed label is not "true".
	TaskResultIncomplete
	// TaskResultComplete: the label is "true".
	TaskResultComplete
)

// StatusEntry is the node's entry in the workflow's
// status.taskResultsCompletionStatus map.
type StatusEntry int

const (
	// EntryAbsent: the map has no entry for the node.
	EntryAbsent StatusEntry = iota
	// EntryIncomplete: the entry is false; it blocks workflow completion.
	EntryIncomplete
	// EntryComplete: the entry is true.
	EntryComplete
)

// Pod is what is known of the pod that ran the node.
type Pod int

const (
	// PodWaitRunning: the pod exists and its wait container has not been
	// seen terminated; it may still write outputs.
	PodWaitRunning Pod = iota
	// PodWaitTerminated: the pod exists and its wait container status is
	// terminated. Workflow pods never restart containers, so it cannot write.
	PodWaitTerminated
	// PodGone: no pod object exists. Its containers may have outlived the
	// object by up to the grace period (force deletion).
	PodGone
	// PodReplaced: a pod of the same name exists with another UID than the
	// one that triggered the remediation: the step is running again.
	PodReplaced
)

// Event is what the event that started the run showed of the wait
// container of the pod the run is about. The caller sets it only for that
// pod (the same UID): evidence about another pod is never given here.
type Event int

const (
	// EventSilent: no event, or one that did not show wait terminated.
	EventSilent Event = iota
	// EventWaitTerminated: the event showed the wait container of this pod
	// terminated. Workflow pods never restart containers, so this proves
	// it can no longer write exactly as a terminated status read from the
	// API server does, even once the pod object is gone.
	EventWaitTerminated
)

// NodeSync is whether the controller tracks the node's task result in the
// node itself (the node's taskResultSynced field). It tells controllers
// apart where that changes what an early write does.
type NodeSync int

const (
	// SyncUnknown: not known (an offloaded node, a caller that did not
	// say). Never an early write.
	SyncUnknown NodeSync = iota
	// SyncTracked: the node carries taskResultSynced (controllers v3.7+
	// and v4). Such a controller re-creates a vanished pod of an unsynced
	// node (the step reruns); a label flipped before it settles the node
	// marks it synced and turns that rerun into an Error. So no write
	// before the node completes.
	SyncTracked
	// SyncUntracked: the pod node has no taskResultSynced (controllers
	// v3.5 and v3.6). They copy the label before they settle the node from
	// the pod and never rerun a vanished pod, so once this pod's wait
	// container is proven terminated a write need not wait for the node
	// to complete (docs/proof-time.md).
	SyncUntracked
)

// RecentlyStarted is how long after a node's start an early write waits.
// A v3.5/v3.6 controller that finds the pod of a running node missing
// re-creates it (the step reruns) while the node started less than
// RECENTLY_STARTED_POD_DURATION ago (10 s by default), and marks the node
// Error "pod deleted" after that. A label flipped before a rerun stays
// true while the new pod works, so an early write must come when a missing
// pod can only mean Error: after that window, plus 5 s for the clocks of
// the controller and the remediator.
const RecentlyStarted = 15 * time.Second

// Input is everything the decision depends on.
type Input struct {
	Node NodePhase
	// Sync says whether the node carries taskResultSynced; it matters only
	// for an active node.
	Sync NodeSync
	// SinceNodeStarted is how long ago the controller started the node (its
	// startedAt); it matters only for an early write (see RecentlyStarted).
	SinceNodeStarted time.Duration
	TaskResult       TaskResult
	Entry            StatusEntry
	Pod              Pod
	// Event is the triggering event's evidence about this pod's wait
	// container; it does not count for a replaced pod.
	Event Event
	// SinceWaitAlive is how long ago the wait container was last possibly
	// alive. It matters only for PodGone.
	SinceWaitAlive time.Duration
	// Grace is how long a vanished pod's containers are assumed to live on.
	Grace time.Duration
}

// Action is what the remediator should do.
type Action int

const (
	// Wait: not safe or not needed yet; look again when something changes
	// or after Decision.RecheckAfter.
	Wait Action = iota
	// Complete: patch the existing task result's label to "true".
	Complete
	// Create: create the missing task result with the label "true".
	Create
	// Skip: nothing to do, ever, for this node.
	Skip
)

func (a Action) String() string {
	switch a {
	case Wait:
		return "wait"
	case Complete:
		return "complete"
	case Create:
		return "create"
	case Skip:
		return "skip"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Reason explains a Decision in a word or two; it appears in logs, events
// and notifications.
type Reason string

// Reasons a decision gives.
const (
	ReasonWaitPodGone         Reason = "wait-may-still-write"
	ReasonPodGoneGraceElapsed Reason = "pod-gone"
	ReasonWaitTerminated      Reason = "wait-terminated"
	ReasonWaitRunning         Reason = "wait-running"
	ReasonNodeActive          Reason = "node-active"
	ReasonNodePending         Reason = "node-pending"
	ReasonPodReplaced         Reason = "pod-replaced"
	ReasonTaskResultComplete  Reason = "task-result-complete"
	ReasonNothingPending      Reason = "nothing-pending"
)

// Decision is the result of Decide.
type Decision struct {
	Action Action
	Reason Reason
	// RecheckAfter, for Wait, is when the decision may change with no
	// event at all (the grace period running out); zero means "only when
	// something changes".
	RecheckAfter time.Duration
}

func (d Decision) String() string {
	if d.RecheckAfter > 0 {
		return fmt.Sprintf("%s(%s, recheck in %s)", d.Action, d.Reason, d.RecheckAfter)
	}
	return fmt.Sprintf("%s(%s)", d.Action, d.Reason)
}
