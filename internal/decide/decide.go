package decide

// Decide applies the remediation rule. It is a pure function of its input.
// It writes only on explicit evidence: any value it does not know (an enum
// out of range) leads to Wait or Skip, never to a write.
func Decide(in Input) Decision {
	// A pod with another UID means the controller started the step again
	// (Argo v3.7 re-creates a deleted pod); its wait container owns the
	// task result now.
	if in.Pod == PodReplaced {
		return Decision{Action: Skip, Reason: ReasonPodReplaced}
	}
	if in.Node == NodePending {
		return Decision{Action: Skip, Reason: ReasonNodePending}
	}
	in.Pod = podProven(in)
	var act Action
	switch {
	case in.TaskResult == TaskResultComplete:
		return Decision{Action: Skip, Reason: ReasonTaskResultComplete}
	case in.TaskResult == TaskResultIncomplete:
		act = Complete
	case in.TaskResult == TaskResultMissing && in.Entry == EntryIncomplete:
		// Legacy annotation path: the status entry blocks the workflow and
		// no task result exists to flip.
		act = Create
	case in.TaskResult == TaskResultMissing && in.Node == NodeCompleted:
		return Decision{Action: Skip, Reason: ReasonNothingPending}
	case in.TaskResult == TaskResultMissing && in.Node == NodeOffloaded && in.Entry != EntryIncomplete && waitEnded(in):
		// No task result will come from a wait container that ended, and
		// no false entry holds the workflow.
		return Decision{Action: Skip, Reason: ReasonNothingPending}
	default:
		// The wait container may still create it, or the state is unknown.
		return Decision{Action: Wait, Reason: ReasonNodeActive}
	}
	if in.Node != NodeCompleted && in.Node != NodeOffloaded {
		// The controller has not settled the node; it will once it sees
		// the pod's end. Acting earlier could race a healthy executor, or,
		// on v3.7+, turn the rerun of a vanished pod into an Error. (An
		// offloaded node's phase cannot be read: the pod's evidence below
		// is all there is, and it alone proves the wait container can no
		// longer write.)
		if !earlyProof(in) {
			return Decision{Action: Wait, Reason: ReasonNodeActive}
		}
		if young := RecentlyStarted - in.SinceNodeStarted; young > 0 {
			return Decision{Action: Wait, Reason: ReasonNodeActive, RecheckAfter: young}
		}
	}
	switch in.Pod {
	case PodWaitTerminated:
		return Decision{Action: act, Reason: ReasonWaitTerminated}
	case PodGone:
		// No grace: a vanished pod's containers are taken as dead.
		if remaining := in.Grace - in.SinceWaitAlive; in.Grace > 0 && remaining > 0 {
			return Decision{Action: Wait, Reason: ReasonWaitPodGone, RecheckAfter: remaining}
		}
		return Decision{Action: act, Reason: ReasonPodGoneGraceElapsed}
	}
	return Decision{Action: Wait, Reason: ReasonWaitRunning}
}

// podProven folds the triggering event's evidence into what is known of
// the pod: the event showed this pod's wait container terminated, and it
// stays so whether the pod is gone now or a read still shows it running
// (a workflow pod never restarts a container). A replaced pod, or a state
// the decision does not know, is left as it is.
func podProven(in Input) Pod {
	if in.Event == EventWaitTerminated && (in.Pod == PodGone || in.Pod == PodWaitRunning) {
		return PodWaitTerminated
	}
	return in.Pod
}

// earlyProof tells whether an active node may be written before the
// controller settles it, once it is older than RecentlyStarted: this pod's
// wait container is proven terminated (read, or shown by the triggering
// event; never the grace) and the controller does not track the node's
// task result itself (v3.5, v3.6), so the write cannot turn a rerun into a
// failure. in.Pod is already folded with the event's evidence.
func earlyProof(in Input) bool {
	return in.Node == NodeActive && in.Sync == SyncUntracked && in.Pod == PodWaitTerminated
}

// waitEnded tells whether the pod shows that its wait container can no
// longer write: terminated, or gone for longer than the grace.
func waitEnded(in Input) bool {
	return in.Pod == PodWaitTerminated || (in.Pod == PodGone && (in.Grace <= 0 || in.SinceWaitAlive >= in.Grace))
}
