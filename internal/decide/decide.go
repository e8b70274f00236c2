package decide

// Decide applies the remediation rule. It is a pure function of its input.
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
	if in.TaskResult == TaskResultComplete {
		return Decision{Action: Skip, Reason: ReasonTaskResultComplete}
	}
	if in.TaskResult == TaskResultMissing && in.Entry != EntryIncomplete {
		if in.Node == NodeActive {
			// The wait container may still create it.
			return Decision{Action: Wait, Reason: ReasonNodeActive}
		}
		return Decision{Action: Skip, Reason: ReasonNothingPending}
	}
	// From here something blocks the workflow: a task result that is not
	// complete, or a false status entry with no task result behind it.
	if in.Node == NodeActive {
		// The controller has not settled the node; it will once it sees
		// the pod's end. Acting earlier could race a healthy executor.
		return Decision{Action: Wait, Reason: ReasonNodeActive}
	}
	act := Complete
	if in.TaskResult == TaskResultMissing {
		act = Create
	}
	switch in.Pod {
	case PodWaitTerminated:
		return Decision{Action: act, Reason: ReasonWaitTerminated}
	case PodGone:
		if remaining := in.Grace - in.SinceWaitAlive; remaining > 0 {
			return Decision{Action: Wait, Reason: ReasonWaitPodGone, RecheckAfter: remaining}
		}
		return Decision{Action: act, Reason: ReasonPodGoneGraceElapsed}
	default: // PodWaitRunning
		return Decision{Action: Wait, Reason: ReasonWaitRunning}
	}
}
