package remediate

import (
	"context"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"k8s.io/apimachinery/pkg/runtime"
)

// proven is the target of a run started by an event that showed the wait
// container of pod podUID terminated with exit code 137.
func proven() Target {
	t := target()
	t.Wait = WaitEvidence{Terminated: true, ExitCode: 137, FinishedAt: time.Now().Add(-time.Second)}
	return t
}

// TestEventProofNeedsNoGrace: the pod is already gone (pod GC
// OnPodCompletion) when the run starts; the event that started it showed
// its wait container terminated, which proves it can no longer write: the
// run completes at once instead of waiting out the grace.
func TestEventProofNeedsNoGrace(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, nil, wf, fixtures.TaskResult(wf, nodeID, false))
	e.opts.Grace, e.opts.Deadline = time.Hour, 2*time.Hour // only the proof can let it act
	done := e.run(context.Background(), proven())
	e.actAsController(t)
	o := receive(t, done)
	if o.err != nil || o.res.Outcome != OutcomeRemediated || o.res.Action != "complete" || o.res.Reason != decide.ReasonWaitTerminated {
		t.Fatalf("got %+v, %v; want remediated by complete (wait-terminated)", o.res, o.err)
	}
}

// TestEventProofIsNotForAnotherPod: the evidence is about pod podUID; a pod
// of another UID now runs the node (the controller re-created it), so its
// wait container owns the task result: nothing is written.
func TestEventProofIsNotForAnotherPod(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	rerun := fixtures.Pod(wf, nodeID, pod, "0d4cbd1e-0000-4000-8000-000000000003", fixtures.WaitRunning)
	e := newEnv(t, []runtime.Object{rerun}, wf, fixtures.TaskResult(wf, nodeID, false))
	o := receive(t, e.run(context.Background(), proven()))
	if o.err != nil || o.res.Outcome != OutcomeRerunByArgo || o.res.Reason != decide.ReasonPodReplaced {
		t.Fatalf("got %+v, %v; want not-stuck (pod-replaced)", o.res, o.err)
	}
	if w := e.writes(); len(w) > 0 {
		t.Errorf("writes on another pod's evidence: %v", w)
	}
}

// TestEvidenceWithoutPodUIDProvesNothing: evidence that names no pod (a
// Target built without PodUID; the configuration refuses it) is ignored:
// the vanished pod gets its grace.
func TestEvidenceWithoutPodUIDProvesNothing(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, nil, wf, fixtures.TaskResult(wf, nodeID, false))
	e.opts.Grace, e.opts.Deadline = time.Hour, 200*time.Millisecond
	tg := proven()
	tg.PodUID = ""
	o := receive(t, e.run(context.Background(), tg))
	if o.err != nil || o.res.Outcome != OutcomeDeadlineExceeded {
		t.Fatalf("got %+v, %v; want deadline-exceeded (waiting out the grace)", o.res, o.err)
	}
	if w := e.writes(); len(w) > 0 {
		t.Errorf("writes without proof: %v", w)
	}
}
