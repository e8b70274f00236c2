package remediate

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
)

func stuckWorkflow(finished time.Time) *wfv1.Workflow {
	return fixtures.Workflow(ns, wfName, wfUID, nodeID, wfv1.NodeError, fixtures.Bool(false), finished)
}

func TestWaitTerminatedCompletesAtOnce(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	done := e.run(context.Background(), target())
	e.actAsController(t)
	o := receive(t, done)

	if o.err != nil || o.res.Outcome != OutcomeRemediated || o.res.Action != "complete" || o.res.Reason != decide.ReasonWaitTerminated {
		t.Fatalf("got %+v, %v; want remediated by complete (wait-terminated)", o.res, o.err)
	}
	tr := e.taskResult(t)
	for k, want := range map[string]string{AnnotationRemediatedBy: "remediator-test", AnnotationReason: "wait-terminated",
		AnnotationTrigger: "OOMKilled", AnnotationAction: "complete"} {
		if tr.Annotations[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, tr.Annotations[k], want)
		}
	}
	if _, err := time.Parse(time.RFC3339, tr.Annotations[AnnotationRemediatedAt]); err != nil {
		t.Errorf("remediated-at: %v", err)
	}
	if got := e.events.reasons(); !slices.Equal(got, []string{"TaskResultComplete"}) {
		t.Errorf("events %v", got)
	}
	if o.res.WorkflowPhase != string(wfv1.WorkflowFailed) || len(o.res.Containers) != 2 || *o.res.Containers[1].ExitCode != 137 {
		t.Errorf("result lacks what was seen: %+v", o.res)
	}
}

func TestPodGoneWaitsOutTheGrace(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, nil, wf, fixtures.TaskResult(wf, nodeID, false))
	e.opts.Grace = 300 * time.Millisecond
	start := time.Now()
	done := e.run(context.Background(), target())
	e.actAsController(t)
	o := receive(t, done)
	if o.err != nil || o.res.Outcome != OutcomeRemediated || o.res.Reason != decide.ReasonPodGoneGraceElapsed {
		t.Fatalf("got %+v, %v", o.res, o.err)
	}
	acted := o.res.Acted.Sub(start)
	if acted < e.opts.Grace-50*time.Millisecond { // the node finished just before start
		t.Errorf("completed %v after start, before the grace %v", acted, e.opts.Grace)
	}
}

func TestPodDeletedEventProvesWaitTerminated(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	alive := fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitRunning)
	e := newEnv(t, []runtime.Object{alive}, wf, fixtures.TaskResult(wf, nodeID, false))
	e.opts.Grace = time.Hour // only the proof can let it act
	e.opts.Deadline = 2 * time.Hour
	done := e.run(context.Background(), target())
	waitFor(t, "a watch on pods", watching(&e.kube.Fake, "pods"))

	// The kubelet reports wait terminated, then the pod is deleted.
	killed := fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)
	if _, err := e.kube.CoreV1().Pods(ns).UpdateStatus(context.Background(), killed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.kube.CoreV1().Pods(ns).Delete(context.Background(), pod, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.actAsController(t)
	o := receive(t, done)
	if o.err != nil || o.res.Outcome != OutcomeRemediated || o.res.Reason != decide.ReasonWaitTerminated {
		t.Fatalf("got %+v, %v", o.res, o.err)
	}
}

func TestWaitFinishesNormallyNothingWritten(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitRunning)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	done := e.run(context.Background(), target())
	waitFor(t, "a watch on task results", watching(&e.argo.Fake, "workflowtaskresults"))

	// The executor's FinalizeOutput.
	if _, err := e.argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).Update(context.Background(),
		fixtures.TaskResult(wf, nodeID, true), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	o := receive(t, done)
	if o.err != nil || o.res.Outcome != OutcomeNotStuck || o.res.Reason != decide.ReasonTaskResultComplete {
		t.Fatalf("got %+v, %v", o.res, o.err)
	}
	if w := e.writes(); len(w) != 1 { // the test's own update
		t.Errorf("writes %v, want only the executor's", w)
	}
	if len(e.events.reasons()) != 0 {
		t.Errorf("events %v", e.events.reasons())
	}
}

func TestPodAliveWholeDeadline(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitRunning)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	e.opts.Deadline = 300 * time.Millisecond
	o := receive(t, e.run(context.Background(), target()))
	if o.err != nil || o.res.Outcome != OutcomeDeadlineExceeded || o.res.Reason != decide.ReasonWaitRunning {
		t.Fatalf("got %+v, %v", o.res, o.err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("writes %v", w)
	}
}

func TestLegacyCreatesTheTaskResult(t *testing.T) {
	wf := stuckWorkflow(time.Now().Add(-time.Minute))
	wf.Labels = map[string]string{LabelInstanceID: "blue"}
	e := newEnv(t, nil, wf)
	done := e.run(context.Background(), target())
	e.actAsController(t)
	o := receive(t, done)
	if o.err != nil || o.res.Outcome != OutcomeRemediated || o.res.Action != "create" {
		t.Fatalf("got %+v, %v", o.res, o.err)
	}
	tr := e.taskResult(t)
	want := map[string]string{LabelWorkflow: wfName, LabelCompleted: "true", LabelInstanceID: "blue"}
	for k, v := range want {
		if tr.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, tr.Labels[k], v)
		}
	}
	if len(tr.OwnerReferences) != 1 || tr.OwnerReferences[0].UID != wfUID || tr.OwnerReferences[0].Kind != "Workflow" {
		t.Errorf("ownerReferences %+v", tr.OwnerReferences)
	}
}

func TestConflictRereadsAndWritesOnce(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	conflicts := 1
	e.argo.PrependReactor("patch", "workflowtaskresults", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "argoproj.io", Resource: "workflowtaskresults"}, nodeID, errors.New("changed"))
		}
		return false, nil, nil
	})
	done := e.run(context.Background(), target())
	e.actAsController(t)
	o := receive(t, done)
	if o.err != nil || o.res.Outcome != OutcomeRemediated {
		t.Fatalf("got %+v, %v", o.res, o.err)
	}
	if got := countPatches(e); got != 2 {
		t.Errorf("%d patches, want the refused one and one more", got)
	}
}

func TestTransientErrorsAreRetried(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	failures := 2
	e.argo.PrependReactor("patch", "workflowtaskresults", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failures > 0 {
			failures--
			return true, nil, apierrors.NewTooManyRequests("slow down", 0)
		}
		return false, nil, nil
	})
	done := e.run(context.Background(), target())
	e.actAsController(t)
	if o := receive(t, done); o.err != nil || o.res.Outcome != OutcomeRemediated {
		t.Fatalf("got %+v, %v", o.res, o.err)
	}
}

func TestForbiddenIsAnError(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, nil, wf, fixtures.TaskResult(wf, nodeID, false))
	e.argo.PrependReactor("list", "workflowtaskresults", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "workflowtaskresults"}, "", errors.New("rbac"))
	})
	o := receive(t, e.run(context.Background(), target()))
	if !apierrors.IsForbidden(o.err) {
		t.Fatalf("got %v, want forbidden", o.err)
	}
}

func TestNoOps(t *testing.T) {
	now := time.Now()
	completed := stuckWorkflow(now)
	completed.Status.Phase = wfv1.WorkflowSucceeded
	pending := fixtures.Workflow(ns, wfName, wfUID, nodeID, wfv1.NodePending, fixtures.Bool(false), now)
	healthy := fixtures.Workflow(ns, wfName, wfUID, nodeID, wfv1.NodeSucceeded, fixtures.Bool(true), now)
	otherNode := fixtures.Workflow(ns, wfName, wfUID, "other-node", wfv1.NodeError, fixtures.Bool(false), now)
	replacement := fixtures.Pod(stuckWorkflow(now), nodeID, pod, "another-uid", fixtures.WaitRunning)

	tests := []struct {
		name     string
		kubeObjs []runtime.Object
		argoObjs []runtime.Object
		want     Outcome
		reason   decide.Reason
	}{
		{"workflow gone", nil, nil, OutcomeWorkflowGone, ""},
		{"workflow completed", nil, []runtime.Object{completed}, OutcomeAlreadyComplete, ""},
		{"node unknown", nil, []runtime.Object{otherNode}, OutcomeNodeUnknown, ""},
		{"node pending again (v3.7 rerun)", nil, []runtime.Object{pending, fixtures.TaskResult(pending, nodeID, false)},
			OutcomeRerunByArgo, decide.ReasonNodePending},
		{"pod replaced", []runtime.Object{replacement}, []runtime.Object{stuckWorkflow(now), fixtures.TaskResult(stuckWorkflow(now), nodeID, false)},
			OutcomeRerunByArgo, decide.ReasonPodReplaced},
		{"healthy node", nil, []runtime.Object{healthy, fixtures.TaskResult(healthy, nodeID, true)},
			OutcomeNotStuck, decide.ReasonTaskResultComplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.kubeObjs, tt.argoObjs...)
			o := receive(t, e.run(context.Background(), target()))
			if o.err != nil || o.res.Outcome != tt.want || o.res.Reason != tt.reason {
				t.Fatalf("got %s (%s), %v; want %s (%s)", o.res.Outcome, o.res.Reason, o.err, tt.want, tt.reason)
			}
			if w := e.writes(); len(w) != 0 {
				t.Errorf("writes %v", w)
			}
			rerun := slices.Contains(e.events.reasons(), ReasonRerunByArgo)
			if want := tt.want == OutcomeRerunByArgo; rerun != want {
				t.Errorf("Event %s recorded: %v, want %v (events %v)", ReasonRerunByArgo, rerun, want, e.events.reasons())
			}
		})
	}
}

func TestRerunAfterSuccessReportsTheSameOutcome(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	done := e.run(context.Background(), target())
	e.actAsController(t)
	first := receive(t, done)

	second := receive(t, e.run(context.Background(), target()))
	if second.err != nil || second.res.Outcome != first.res.Outcome || !second.res.Previously ||
		second.res.Action != first.res.Action || second.res.Reason != first.res.Reason {
		t.Fatalf("rerun %+v, %v; first %+v", second.res, second.err, first.res)
	}
	if got := countPatches(e); got != 1 {
		t.Errorf("%d patches, want 1", got)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	e.opts.DryRun = true
	o := receive(t, e.run(context.Background(), target()))
	if o.err != nil || o.res.Outcome != OutcomeWouldRemediate || o.res.Action != "complete" {
		t.Fatalf("got %+v, %v", o.res, o.err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("writes %v", w)
	}
}

func TestNudgeAnnotatesTheWorkflow(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	e.opts.Nudge = true
	done := e.run(context.Background(), target())
	e.actAsController(t)
	if o := receive(t, done); o.err != nil {
		t.Fatal(o.err)
	}
	got, err := e.argo.ArgoprojV1alpha1().Workflows(ns).Get(context.Background(), wfName, metav1.GetOptions{})
	if err != nil || got.Annotations[AnnotationNudgedAt] == "" {
		t.Fatalf("no nudge annotation: %v %v", got.Annotations, err)
	}
}

func TestPodFoundByNodeAnnotation(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	other := fixtures.Pod(wf, "other-node", "etl-nightly-other", "uid-other", fixtures.WaitRunning)
	e := newEnv(t, []runtime.Object{other, fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	tgt := target()
	tgt.PodName, tgt.PodUID = "", ""
	done := e.run(context.Background(), tgt)
	e.actAsController(t)
	o := receive(t, done)
	if o.err != nil || o.res.Reason != decide.ReasonWaitTerminated || o.res.PodUID != podUID {
		t.Fatalf("got %+v, %v", o.res, o.err)
	}
}

func TestVerifyTimesOut(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitKilled)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	e.opts.VerifyTimeout = 200 * time.Millisecond
	o := receive(t, e.run(context.Background(), target())) // no controller
	if o.err != nil || o.res.Outcome != OutcomeRemediatedUnverified {
		t.Fatalf("got %+v, %v", o.res, o.err)
	}
}

func TestCancelStopsWithoutWriting(t *testing.T) {
	wf := stuckWorkflow(time.Now())
	e := newEnv(t, []runtime.Object{fixtures.Pod(wf, nodeID, pod, podUID, fixtures.WaitRunning)},
		wf, fixtures.TaskResult(wf, nodeID, false))
	ctx, cancel := context.WithCancel(context.Background())
	done := e.run(ctx, target())
	waitFor(t, "a watch on pods", watching(&e.kube.Fake, "pods"))
	cancel()
	o := receive(t, done)
	if !errors.Is(o.err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", o.err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("writes %v", w)
	}
}

// countPatches counts the PATCHes of task results the fake clientset saw.
func countPatches(e *env) int {
	n := 0
	for _, a := range e.argo.Actions() {
		if a.GetVerb() == "patch" && a.GetResource().Resource == "workflowtaskresults" {
			n++
		}
	}
	return n
}
