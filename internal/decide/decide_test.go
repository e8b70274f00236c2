package decide

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const grace = 30 * time.Second

func TestDecide(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		want Decision
	}{
		// The stuck cases this project exists for.
		{"OOM, wait killed, status shows it terminated: act at once",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Complete, Reason: ReasonWaitTerminated}},
		{"pod gone just now: wait out the grace",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, SinceWaitAlive: 5 * time.Second},
			Decision{Action: Wait, Reason: ReasonWaitPodGone, RecheckAfter: 25 * time.Second}},
		{"pod gone exactly the grace ago",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, SinceWaitAlive: grace},
			Decision{Action: Complete, Reason: ReasonPodGoneGraceElapsed}},
		{"pod gone long ago",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, SinceWaitAlive: time.Hour},
			Decision{Action: Complete, Reason: ReasonPodGoneGraceElapsed}},
		{"status entry already true but label false: the controller rewrites it from the label",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryComplete, Pod: PodWaitTerminated},
			Decision{Action: Complete, Reason: ReasonWaitTerminated}},
		{"entry not yet copied by the controller",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryAbsent, Pod: PodGone, SinceWaitAlive: time.Minute},
			Decision{Action: Complete, Reason: ReasonPodGoneGraceElapsed}},

		// Legacy annotation path: no task result, the status entry is false.
		{"legacy: pod gone past grace: create",
			Input{Node: NodeCompleted, TaskResult: TaskResultMissing, Entry: EntryIncomplete, Pod: PodGone, SinceWaitAlive: time.Minute},
			Decision{Action: Create, Reason: ReasonPodGoneGraceElapsed}},
		{"legacy: wait terminated: create",
			Input{Node: NodeCompleted, TaskResult: TaskResultMissing, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Create, Reason: ReasonWaitTerminated}},
		{"legacy: pod gone within grace",
			Input{Node: NodeCompleted, TaskResult: TaskResultMissing, Entry: EntryIncomplete, Pod: PodGone, SinceWaitAlive: 29 * time.Second},
			Decision{Action: Wait, Reason: ReasonWaitPodGone, RecheckAfter: time.Second}},
		{"legacy: wait still running",
			Input{Node: NodeCompleted, TaskResult: TaskResultMissing, Entry: EntryIncomplete, Pod: PodWaitRunning},
			Decision{Action: Wait, Reason: ReasonWaitRunning}},

		// Never while wait may still write.
		{"node done, wait still running (uploading outputs)",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitRunning},
			Decision{Action: Wait, Reason: ReasonWaitRunning}},
		{"node still running, wait terminated: the controller has not caught up",
			Input{Node: NodeActive, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Wait, Reason: ReasonNodeActive}},
		{"node still running, pod gone long ago: the controller will mark it",
			Input{Node: NodeActive, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, SinceWaitAlive: time.Hour},
			Decision{Action: Wait, Reason: ReasonNodeActive}},
		{"node running, no task result yet",
			Input{Node: NodeActive, TaskResult: TaskResultMissing, Entry: EntryAbsent, Pod: PodWaitRunning},
			Decision{Action: Wait, Reason: ReasonNodeActive}},

		// Not stuck.
		{"task result already complete",
			Input{Node: NodeCompleted, TaskResult: TaskResultComplete, Entry: EntryComplete, Pod: PodGone},
			Decision{Action: Skip, Reason: ReasonTaskResultComplete}},
		{"task result complete, entry not yet updated",
			Input{Node: NodeCompleted, TaskResult: TaskResultComplete, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Skip, Reason: ReasonTaskResultComplete}},
		{"no task result and no entry: nothing blocks the workflow",
			Input{Node: NodeCompleted, TaskResult: TaskResultMissing, Entry: EntryAbsent, Pod: PodGone, SinceWaitAlive: time.Hour},
			Decision{Action: Skip, Reason: ReasonNothingPending}},
		{"no task result, entry true",
			Input{Node: NodeCompleted, TaskResult: TaskResultMissing, Entry: EntryComplete, Pod: PodGone, SinceWaitAlive: time.Hour},
			Decision{Action: Skip, Reason: ReasonNothingPending}},
		{"v3.7 rerun: node back to Pending",
			Input{Node: NodePending, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, SinceWaitAlive: time.Hour},
			Decision{Action: Skip, Reason: ReasonNodePending}},
		{"v3.7 rerun: pod re-created with another UID",
			Input{Node: NodeActive, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodReplaced},
			Decision{Action: Skip, Reason: ReasonPodReplaced}},
		{"replacement pod even though the node looks completed",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodReplaced},
			Decision{Action: Skip, Reason: ReasonPodReplaced}},
		{"zero grace: even a pod that finished in the future (clock skew)",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, SinceWaitAlive: -time.Second},
			Decision{Action: Complete, Reason: ReasonPodGoneGraceElapsed}},
		{"zero grace: a vanished pod is trusted at once",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone},
			Decision{Action: Complete, Reason: ReasonPodGoneGraceElapsed}},
		{"offloaded node, wait terminated: the pod alone proves it",
			Input{Node: NodeOffloaded, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Complete, Reason: ReasonWaitTerminated}},
		{"offloaded node, pod gone within the grace",
			Input{Node: NodeOffloaded, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, SinceWaitAlive: 10 * time.Second},
			Decision{Action: Wait, Reason: ReasonWaitPodGone, RecheckAfter: 20 * time.Second}},
		{"offloaded node, pod gone past the grace",
			Input{Node: NodeOffloaded, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, SinceWaitAlive: grace},
			Decision{Action: Complete, Reason: ReasonPodGoneGraceElapsed}},
		{"offloaded node, wait running",
			Input{Node: NodeOffloaded, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitRunning},
			Decision{Action: Wait, Reason: ReasonWaitRunning}},
		{"offloaded node, legacy path: false entry, no task result, wait terminated",
			Input{Node: NodeOffloaded, TaskResult: TaskResultMissing, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Create, Reason: ReasonWaitTerminated}},
		{"offloaded node, no task result, no false entry, wait ended: nothing pending",
			Input{Node: NodeOffloaded, TaskResult: TaskResultMissing, Entry: EntryAbsent, Pod: PodWaitTerminated},
			Decision{Action: Skip, Reason: ReasonNothingPending}},
		{"offloaded node, no task result yet, wait running: it may still create it",
			Input{Node: NodeOffloaded, TaskResult: TaskResultMissing, Entry: EntryAbsent, Pod: PodWaitRunning},
			Decision{Action: Wait, Reason: ReasonNodeActive}},

		// Issue 13: the event that started the run showed this pod's wait
		// container terminated.
		{"event proof, pod already gone (podGC OnPodCompletion): act at once, no grace",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, Event: EventWaitTerminated},
			Decision{Action: Complete, Reason: ReasonWaitTerminated}},
		{"event proof, pod gone a second ago, long grace",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, Event: EventWaitTerminated, SinceWaitAlive: time.Second, Grace: time.Hour},
			Decision{Action: Complete, Reason: ReasonWaitTerminated}},
		{"event proof, the read still lists wait running (an older status): the proof stands",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitRunning, Event: EventWaitTerminated},
			Decision{Action: Complete, Reason: ReasonWaitTerminated}},
		{"event proof, legacy path: create",
			Input{Node: NodeCompleted, TaskResult: TaskResultMissing, Entry: EntryIncomplete, Pod: PodGone, Event: EventWaitTerminated},
			Decision{Action: Create, Reason: ReasonWaitTerminated}},
		{"event proof, offloaded node",
			Input{Node: NodeOffloaded, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, Event: EventWaitTerminated},
			Decision{Action: Complete, Reason: ReasonWaitTerminated}},
		{"event proof, but a pod of another UID runs now: the step reruns, its wait owns the task result",
			Input{Node: NodeActive, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodReplaced, Event: EventWaitTerminated},
			Decision{Action: Skip, Reason: ReasonPodReplaced}},
		{"event proof, replaced pod, node looks completed",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodReplaced, Event: EventWaitTerminated},
			Decision{Action: Skip, Reason: ReasonPodReplaced}},
		{"event proof, node back to Pending (rerun)",
			Input{Node: NodePending, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, Event: EventWaitTerminated},
			Decision{Action: Skip, Reason: ReasonNodePending}},
		{"event proof, task result already complete",
			Input{Node: NodeCompleted, TaskResult: TaskResultComplete, Entry: EntryIncomplete, Pod: PodGone, Event: EventWaitTerminated},
			Decision{Action: Skip, Reason: ReasonTaskResultComplete}},
		{"event proof, offloaded, no task result, no false entry: nothing pending",
			Input{Node: NodeOffloaded, TaskResult: TaskResultMissing, Entry: EntryAbsent, Pod: PodGone, Event: EventWaitTerminated, SinceWaitAlive: time.Second},
			Decision{Action: Skip, Reason: ReasonNothingPending}},
		{"an event value the decision does not know is no proof",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, Event: Event(7), SinceWaitAlive: time.Second},
			Decision{Action: Wait, Reason: ReasonWaitPodGone, RecheckAfter: grace - time.Second}},
		{"event proof does not make an unknown pod state writable",
			Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: Pod(9), Event: EventWaitTerminated},
			Decision{Action: Wait, Reason: ReasonWaitRunning}},

		// Issue 13, acting at proof time: an active node whose controller
		// does not track taskResultSynced (v3.5, v3.6).
		{"v3.5/v3.6: node still running, wait terminated: act at proof time",
			Input{Node: NodeActive, Sync: SyncUntracked, SinceNodeStarted: time.Minute, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Complete, Reason: ReasonWaitTerminated}},
		{"v3.5/v3.6: node still running, pod gone at once, the event proved wait terminated",
			Input{Node: NodeActive, Sync: SyncUntracked, SinceNodeStarted: time.Minute, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, Event: EventWaitTerminated},
			Decision{Action: Complete, Reason: ReasonWaitTerminated}},
		{"v3.5/v3.6: node still running, legacy path, event proof: create",
			Input{Node: NodeActive, Sync: SyncUntracked, SinceNodeStarted: time.Minute, TaskResult: TaskResultMissing, Entry: EntryIncomplete, Pod: PodWaitRunning, Event: EventWaitTerminated},
			Decision{Action: Create, Reason: ReasonWaitTerminated}},
		{"v3.5/v3.6: node still running, pod gone long ago but no proof: the grace is not proof enough before the node settles",
			Input{Node: NodeActive, Sync: SyncUntracked, SinceNodeStarted: time.Minute, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, SinceWaitAlive: time.Hour},
			Decision{Action: Wait, Reason: ReasonNodeActive}},
		{"v3.5/v3.6: node still running, wait running",
			Input{Node: NodeActive, Sync: SyncUntracked, SinceNodeStarted: time.Minute, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitRunning},
			Decision{Action: Wait, Reason: ReasonNodeActive}},
		{"v3.5/v3.6: node still running, no task result, no false entry: wait may still create it",
			Input{Node: NodeActive, Sync: SyncUntracked, SinceNodeStarted: time.Minute, TaskResult: TaskResultMissing, Entry: EntryAbsent, Pod: PodWaitTerminated},
			Decision{Action: Wait, Reason: ReasonNodeActive}},
		{"v3.5/v3.6: node started 4 s ago, wait terminated: wait until a missing pod can no longer be re-created",
			Input{Node: NodeActive, Sync: SyncUntracked, SinceNodeStarted: 4 * time.Second, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Wait, Reason: ReasonNodeActive, RecheckAfter: RecentlyStarted - 4*time.Second}},
		{"v3.5/v3.6: node started exactly RecentlyStarted ago, event proof, pod gone: act",
			Input{Node: NodeActive, Sync: SyncUntracked, SinceNodeStarted: RecentlyStarted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, Event: EventWaitTerminated},
			Decision{Action: Complete, Reason: ReasonWaitTerminated}},
		{"v3.5/v3.6: node start unknown (zero), wait terminated: wait",
			Input{Node: NodeActive, Sync: SyncUntracked, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Wait, Reason: ReasonNodeActive, RecheckAfter: RecentlyStarted}},
		{"v3.7+/v4: node still running, pod gone, event proof: wait, the controller may rerun the step",
			Input{Node: NodeActive, Sync: SyncTracked, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodGone, Event: EventWaitTerminated},
			Decision{Action: Wait, Reason: ReasonNodeActive}},
		{"v3.7+/v4: node still running, wait terminated: wait for the node",
			Input{Node: NodeActive, Sync: SyncTracked, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Wait, Reason: ReasonNodeActive}},
		{"controller unknown: node still running, wait terminated: wait for the node",
			Input{Node: NodeActive, Sync: SyncUnknown, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Wait, Reason: ReasonNodeActive}},
		{"a sync value the decision does not know: no early write",
			Input{Node: NodeActive, Sync: NodeSync(5), TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Wait, Reason: ReasonNodeActive}},
		{"v3.5/v3.6: node pending, wait terminated: never (a rerun's pod)",
			Input{Node: NodePending, Sync: SyncUntracked, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Skip, Reason: ReasonNodePending}},
		{"v3.5/v3.6: node still running, replaced pod, event proof: never",
			Input{Node: NodeActive, Sync: SyncUntracked, SinceNodeStarted: time.Minute, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodReplaced, Event: EventWaitTerminated},
			Decision{Action: Skip, Reason: ReasonPodReplaced}},
		{"v3.5/v3.6: node still running, task result complete",
			Input{Node: NodeActive, Sync: SyncUntracked, SinceNodeStarted: time.Minute, TaskResult: TaskResultComplete, Entry: EntryIncomplete, Pod: PodWaitTerminated},
			Decision{Action: Skip, Reason: ReasonTaskResultComplete}},
		{"offloaded node, replacement pod: the step reruns",
			Input{Node: NodeOffloaded, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete, Pod: PodReplaced},
			Decision{Action: Skip, Reason: ReasonPodReplaced}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if in.Grace == 0 && !strings.HasPrefix(tt.name, "zero grace") {
				in.Grace = grace
			}
			if got := Decide(in); got != tt.want {
				t.Errorf("Decide(%+v) = %v, want %v", in, got, tt.want)
			}
		})
	}
}

// TestDecideNeverWritesWhileWaitMayWrite walks every combination of the
// inputs and checks the safety invariant and the shape of each decision.
func TestDecideNeverWritesWhileWaitMayWrite(t *testing.T) {
	for _, in := range allInputs() {
		d := Decide(in)
		if err := CheckInvariants(in, d); err != nil {
			t.Error(err)
		}
	}
}

// TestEventProofOnlyForThisPod: the event's evidence never makes a write
// where the pod was replaced, and never where the same input without it
// would be refused for any reason other than the wait container.
func TestEventProofOnlyForThisPod(t *testing.T) {
	for _, in := range allInputs() {
		if in.Event != EventWaitTerminated {
			continue
		}
		d := Decide(in)
		writes := d.Action == Complete || d.Action == Create
		if writes && in.Pod == PodReplaced {
			t.Errorf("Decide(%+v) = %v: a write on another pod's evidence", in, d)
		}
		silent := in
		silent.Event = EventSilent
		if s := Decide(silent); s.Action == Skip && d != s {
			t.Errorf("Decide(%+v) = %v, but without the event %v: the evidence must not undo a skip", in, d, s)
		}
	}
}

// TestEarlyWriteOnlyOnProofForUntrackedNodes: a write on a node that has
// not completed happens only for a running node of a v3.5/v3.6 controller,
// started RecentlyStarted ago, with this pod's wait proven terminated, and
// the same input with the node tracked (v3.7+) or unknown is never written.
func TestEarlyWriteOnlyOnProofForUntrackedNodes(t *testing.T) {
	for _, in := range allInputs() {
		if in.Node == NodeCompleted || in.Node == NodeOffloaded {
			continue
		}
		d := Decide(in)
		writes := d.Action == Complete || d.Action == Create
		if writes && (in.Node != NodeActive || in.Sync != SyncUntracked) {
			t.Errorf("Decide(%+v) = %v: an early write outside v3.5/v3.6 running nodes", in, d)
		}
		if writes && in.Pod != PodWaitTerminated && in.Event != EventWaitTerminated {
			t.Errorf("Decide(%+v) = %v: an early write without proof", in, d)
		}
		if writes && in.SinceNodeStarted < RecentlyStarted {
			t.Errorf("Decide(%+v) = %v: an early write while a missing pod may still be re-created", in, d)
		}
		for _, other := range []NodeSync{SyncUnknown, SyncTracked} {
			o := in
			o.Sync = other
			if od := Decide(o); od.Action == Complete || od.Action == Create {
				t.Errorf("Decide(%+v) = %v: an early write for a node of sync %d", o, od, other)
			}
		}
	}
}

func allInputs() []Input {
	var out []Input
	for _, node := range []NodePhase{NodeActive, NodePending, NodeCompleted, NodeOffloaded} {
		for _, tr := range []TaskResult{TaskResultMissing, TaskResultIncomplete, TaskResultComplete} {
			for _, e := range []StatusEntry{EntryAbsent, EntryIncomplete, EntryComplete} {
				for _, p := range []Pod{PodWaitRunning, PodWaitTerminated, PodGone, PodReplaced} {
					for _, ev := range []Event{EventSilent, EventWaitTerminated} {
						for _, since := range []time.Duration{-time.Second, 0, grace - time.Nanosecond, grace, 2 * grace} {
							for _, g := range []time.Duration{0, grace} {
								for _, sync := range []NodeSync{SyncUnknown, SyncTracked, SyncUntracked} {
									for _, age := range []time.Duration{0, RecentlyStarted - time.Nanosecond, RecentlyStarted} {
										out = append(out, Input{Node: node, Sync: sync, SinceNodeStarted: age, TaskResult: tr, Entry: e, Pod: p, Event: ev, SinceWaitAlive: since, Grace: g})
									}
								}
							}
						}
					}
				}
			}
		}
	}
	return out
}

func ExampleDecide() {
	d := Decide(Input{Node: NodeCompleted, TaskResult: TaskResultIncomplete, Entry: EntryIncomplete,
		Pod: PodGone, SinceWaitAlive: 10 * time.Second, Grace: 30 * time.Second})
	fmt.Println(d)
	// Output: wait(wait-may-still-write, recheck in 20s)
}
