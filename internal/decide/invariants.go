package decide

import "fmt"

// CheckInvariants reports a decision that breaks the project's promises. It
// is used by the tests and the fuzz target, and is cheap enough to run on
// every decision in production as a last line of defence.
func CheckInvariants(in Input, d Decision) error {
	writes := d.Action == Complete || d.Action == Create
	waitMayWrite := !waitCannotWrite(in)
	switch {
	case writes && waitMayWrite:
		return fmt.Errorf("decide: %v while the wait container may still write (%+v)", d, in)
	case writes && in.Node != NodeCompleted && in.Node != NodeOffloaded && !provenEarly(in):
		return fmt.Errorf("decide: %v for a node that has not completed (%+v)", d, in)
	case d.Action == Complete && in.TaskResult != TaskResultIncomplete:
		return fmt.Errorf("decide: complete without an incomplete task result (%+v)", in)
	case d.Action == Create && (in.TaskResult != TaskResultMissing || in.Entry != EntryIncomplete):
		return fmt.Errorf("decide: create without a false status entry and no task result (%+v)", in)
	case d.Action != Wait && d.RecheckAfter != 0:
		return fmt.Errorf("decide: recheck time on a final decision %v", d)
	case d.Action == Wait && d.RecheckAfter < 0:
		return fmt.Errorf("decide: negative recheck time %v", d)
	case d.Reason == "":
		return fmt.Errorf("decide: decision without a reason %v", d)
	}
	return nil
}

// waitCannotWrite states, independently of Decide, when the node's wait
// container is proven unable to write: its status read terminated; or the
// triggering event showed this very pod's wait terminated (the pod gone or
// still listed); or the pod gone for the grace. Never for a replaced pod
// (its wait container is another one) nor for a state not listed here.
func waitCannotWrite(in Input) bool {
	proven := in.Event == EventWaitTerminated
	switch in.Pod {
	case PodWaitTerminated:
		return true
	case PodWaitRunning:
		return proven
	case PodGone:
		return proven || in.Grace <= 0 || in.SinceWaitAlive >= in.Grace
	}
	return false
}

// provenEarly states, independently of Decide, when a node that has not
// completed may be written: it is running (not pending, not of an unknown
// phase), started at least RecentlyStarted ago (a missing pod can no longer
// be re-created), the controller does not track its task result in the
// node (v3.5/v3.6), and this pod's wait container is proven terminated by
// a read or by the event, never by the grace.
func provenEarly(in Input) bool {
	if in.Node != NodeActive || in.Sync != SyncUntracked || in.SinceNodeStarted < RecentlyStarted {
		return false
	}
	return in.Pod == PodWaitTerminated ||
		(in.Event == EventWaitTerminated && (in.Pod == PodWaitRunning || in.Pod == PodGone))
}
