package remediate

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestRerunRecordsItsOwnEvent: a run that finds the fix written by an
// earlier one (which may have been killed before recording its Event)
// records RemediatedEarlier, whether the workflow is still running or has
// completed meanwhile, and writes nothing.
func TestRerunRecordsItsOwnEvent(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	// The writer: patches, records its Event; the controller has not yet
	// moved on when the second run reads.
	first := e.run(context.Background(), target())
	waitFor(t, "the first run's write", func() bool { return e.taskResult(t).Annotations[AnnotationRemediatedAt] != "" })
	second := e.run(context.Background(), target())
	waitFor(t, "the second run's Event", func() bool { return len(e.events.reasons()) == 2 })
	e.actAsController(t)
	for _, ch := range []<-chan outcome{first, second} {
		if o := receive(t, ch); o.err != nil || o.res.Outcome != OutcomeRemediated {
			t.Fatalf("got %+v, %v", o.res, o.err)
		}
	}
	// The workflow has completed: a third run ends at its first read.
	third := receive(t, e.run(context.Background(), target()))
	if third.err != nil || third.res.Outcome != OutcomeRemediated || !third.res.Previously || third.res.Action != "complete" {
		t.Fatalf("third run %+v, %v", third.res, third.err)
	}
	// The first two runs record concurrently: their order is not fixed.
	want := []string{ReasonRemediatedEarlier, ReasonRemediatedEarlier, "TaskResultComplete"}
	got := e.events.reasons()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if got := countPatches(e); got != 1 {
		t.Errorf("%d patches, want 1", got)
	}
}
