package decide

import (
	"testing"
	"time"
)

// FuzzDecide checks the invariants on arbitrary inputs, out-of-range enum
// values and negative durations included. Its seeds are every input of the
// exhaustive walk; testdata/fuzz/FuzzDecide holds only regressions, each
// named after what it covers (unknown-enums: phase 29, task result 7, sync 3).
func FuzzDecide(f *testing.F) {
	for _, in := range allInputs() {
		f.Add(int(in.Node), int(in.TaskResult), int(in.Entry), int(in.Pod), int64(in.SinceWaitAlive), int64(in.Grace), int(in.Event), int(in.Sync), int64(in.SinceNodeStarted))
	}
	f.Fuzz(func(t *testing.T, node, tr, entry, pod int, since, grace int64, event, sync int, nodeAge int64) {
		in := Input{Node: NodePhase(node), TaskResult: TaskResult(tr), Entry: StatusEntry(entry), Pod: Pod(pod),
			SinceWaitAlive: time.Duration(since), Grace: time.Duration(grace), Event: Event(event), Sync: NodeSync(sync),
			SinceNodeStarted: time.Duration(nodeAge)}
		d := Decide(in)
		if err := CheckInvariants(in, d); err != nil {
			t.Fatal(err)
		}
	})
}
