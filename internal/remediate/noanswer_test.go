package remediate

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// TestWriteWithoutAnswerIsReadBack: the first PATCH gets no answer (the
// connection breaks, as when the API server goes down). Applied: the re-read
// finds this run's write, which is reported as this run's, not written
// again. Not applied: the re-read decides again and writes once more.
func TestWriteWithoutAnswerIsReadBack(t *testing.T) {
	for _, applied := range []bool{true, false} {
		name := map[bool]string{true: "Applied", false: "NotApplied"}[applied]
		t.Run(name, func(t *testing.T) {
			wf := stuckWorkflow(time.Now())
			e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
				wf, fixtures.TaskResult(wf, nodeID, false))
			lost := 1
			e.argo.PrependReactor("patch", "workflowtaskresults", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if lost == 0 {
					return false, nil, nil
				}
				lost--
				if applied {
					if _, _, err := k8stesting.ObjectReaction(e.argo.Tracker())(a); err != nil {
						t.Errorf("applying the patch: %v", err)
					}
				}
				return true, nil, errors.New("http2: client connection lost")
			})
			done := e.run(context.Background(), target())
			e.actAsController(t)
			o := receive(t, done)
			if o.err != nil || o.res.Outcome != OutcomeRemediated || o.res.Previously ||
				o.res.Action != "complete" || o.res.Reason != decide.ReasonWaitTerminated {
				t.Fatalf("got %+v, %v; want remediated by this run's complete (wait-terminated)", o.res, o.err)
			}
			wantPatches := map[bool]int{true: 1, false: 2}[applied]
			if got := countPatches(e); got != wantPatches {
				t.Errorf("%d patches, want %d", got, wantPatches)
			}
			if got := e.events.reasons(); !slices.Equal(got, []string{"TaskResultComplete"}) {
				t.Errorf("events %v", got)
			}
		})
	}
}

func TestNoAnswer(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{errors.New("EOF"), true},
		{errors.New("dial tcp 127.0.0.1:6443: connect: connection refused"), true},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{apierrors.NewServiceUnavailable("restarting"), false},
		{nil, false},
	} {
		if got := noAnswer(c.err); got != c.want {
			t.Errorf("noAnswer(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
