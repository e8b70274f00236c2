package decide

import "fmt"

// CheckInvariants reports a decision that breaks the project's promises. It
// is used by the tests and the fuzz target, and is cheap enough to run on
// every decision in production as a last line of defence.
func CheckInvariants(in Input, d Decision) error {
	writes := d.Action == Complete || d.Action == Create
	waitMayWrite := in.Pod == PodWaitRunning || in.Pod == PodReplaced ||
		(in.Pod == PodGone && in.Grace > 0 && in.SinceWaitAlive < in.Grace)
	switch {
	case writes && waitMayWrite:
		return fmt.Errorf("decide: %v while the wait container may still write (%+v)", d, in)
	case writes && in.Node != NodeCompleted && in.Node != NodeOffloaded:
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
