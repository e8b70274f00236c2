package remediate

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/wfstatus"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
)

// runSeeded runs RunSeeded in the background.
func (e *env) runSeeded(ctx context.Context, t Target, seed *Seed) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := e.remediator().RunSeeded(ctx, t, seed)
		ch <- outcome{res, err}
	}()
	return ch
}

// requests lists every request the fakes saw, as "verb resource", in order
// per fake (pods first, then Argo's).
func (e *env) requests() []string {
	var out []string
	for _, fk := range []*k8stesting.Fake{&e.kube.Fake, &e.argo.Fake} {
		for _, a := range fk.Actions() {
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

// A seed that leads to a write is written on without reading the workflow,
// the task result or the pod again.
func TestSeedIsWrittenOnWithoutReading(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	p, tr := fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled), fixtures.TaskResult(wf, nodeID, false)
	e := newEnv(t, []runtime.Object{p}, wf, tr)
	seed := &Seed{Workflow: wfstatus.FromTyped(wf), TaskResult: tr, Pod: p, ReadAt: time.Now()}
	done := e.runSeeded(context.Background(), target(), seed)
	e.actAsController(t)
	o := receive(t, done)
	if o.err != nil || o.res.Outcome != OutcomeRemediated || o.res.Action != "complete" || o.res.Reason != decide.ReasonWaitTerminated {
		t.Fatalf("got %+v, %v; want remediated by complete (wait-terminated)", o.res, o.err)
	}
	got := e.requests()
	// The pod was never read; the run's first request to Argo's API is the
	// write (the verify's reads of the workflow follow it; the gets are the
	// stand-in controller's).
	if slices.Contains(got, "list pods") || !slices.Contains(got, "patch workflowtaskresults") {
		t.Fatalf("requests %v: want the patch and no pod read", got)
	}
	for _, a := range e.argo.Actions() {
		if a.GetVerb() == "get" {
			continue
		}
		if a.GetVerb() != "patch" || a.GetResource().Resource != "workflowtaskresults" {
			t.Errorf("first request of the run %s %s, want the patch (requests %v)", a.GetVerb(), a.GetResource().Resource, got)
		}
		break
	}
}

// A write on a stale seed is refused by the API server (the task result
// changed since the list: its resourceVersion precondition fails); the run
// then reads and decides on what it reads: here, the executor completed the
// task result itself, so nothing more is written.
func TestStaleSeedIsReadAgain(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	p := fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)
	listed := fixtures.TaskResult(wf, nodeID, false)
	e := newEnv(t, []runtime.Object{p}, wf, fixtures.TaskResult(wf, nodeID, true))
	e.argo.PrependReactor("patch", "workflowtaskresults", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "argoproj.io", Resource: "workflowtaskresults"},
			nodeID, nil)
	})
	seed := &Seed{Workflow: wfstatus.FromTyped(wf), TaskResult: listed, Pod: p, ReadAt: time.Now()}
	o := receive(t, e.runSeeded(context.Background(), target(), seed))
	if o.err != nil || o.res.Outcome != OutcomeNotStuck || o.res.Wrote() {
		t.Fatalf("got %+v, %v; want not-stuck, nothing written", o.res, o.err)
	}
	got := e.requests()
	patches := 0
	for _, r := range got {
		if r == "patch workflowtaskresults" {
			patches++
		}
	}
	if patches != 1 || !slices.Contains(got, "list workflowtaskresults") || !slices.Contains(got, "list workflows") {
		t.Errorf("requests %v: want one refused patch, then a read", got)
	}
}

// A seed whose decision is not a write, or that is older than SeedMaxAge,
// is not decided on: the run reads. Here both seeds would write (the pod
// listed as gone long ago) while the pod still runs: the run waits.
func TestSeedNotWrittenOnUnlessYoungAndWriting(t *testing.T) {
	wf := stuckWorkflow(time.Now().Add(-time.Hour))
	alive := fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitRunning)
	tr := fixtures.TaskResult(wf, nodeID, false)
	for name, seed := range map[string]*Seed{
		"too old": {Workflow: wfstatus.FromTyped(wf), TaskResult: tr, ReadAt: time.Now().Add(-SeedMaxAge - time.Second)},
		"waits":   {Workflow: wfstatus.FromTyped(wf), TaskResult: tr, Pod: alive, ReadAt: time.Now()},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, []runtime.Object{alive}, wf, tr)
			e.opts.Grace, e.opts.Deadline = time.Hour, 300*time.Millisecond
			o := receive(t, e.runSeeded(context.Background(), target(), seed))
			if o.err != nil || o.res.Outcome != OutcomeDeadlineExceeded || o.res.Wrote() {
				t.Fatalf("got %+v, %v; want deadline-exceeded, nothing written", o.res, o.err)
			}
			if got := e.requests(); !slices.Contains(got, "list pods") || len(e.writes()) != 0 {
				t.Errorf("requests %v: want a read of the pod and no write", got)
			}
		})
	}
}
