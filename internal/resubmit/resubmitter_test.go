package resubmit

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argofake "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// rescueEvent is the Event a remediator run leaves on wf after completing
// the task result of its OOMKilled node etl-1.
func rescueEvent(wf *wfv1.Workflow) *corev1.Event {
	const node = "etl-1"
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: wf.Name + ".rescue-" + node, Namespace: wf.Namespace,
			Annotations: map[string]string{remediate.AnnotationEventNode: node}},
		InvolvedObject: corev1.ObjectReference{Kind: "Workflow", Namespace: wf.Namespace, Name: wf.Name, UID: wf.UID},
		Reason:         "TaskResultComplete", Source: corev1.EventSource{Component: remediate.Component},
	}
}

func newResubmitter(objs []runtime.Object, events ...runtime.Object) (*Resubmitter, *argofake.Clientset) {
	argo := argofake.NewSimpleClientset(objs...)
	return &Resubmitter{Argo: argo, Kube: kubefake.NewClientset(events...), Limits: limits,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, argo
}

func creates(argo *argofake.Clientset) int {
	n := 0
	for _, a := range argo.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "workflows" {
			n++
		}
	}
	return n
}

func TestHandleResubmitsOnceAndMarks(t *testing.T) {
	ctx := context.Background()
	wf := failedWorkflow()
	r, argo := newResubmitter([]runtime.Object{wf}, rescueEvent(wf))
	reports, done, err := r.Handle(ctx, "team-a", "etl", nil)
	if err != nil || !done || len(reports) != 1 || reports[0].Kind != KindResubmitted || !reports[0].Created {
		t.Fatalf("reports %+v, done %v, err %v", reports, done, err)
	}
	n, err := argo.ArgoprojV1alpha1().Workflows("team-a").Get(ctx, "etl-oom-1", metav1.GetOptions{})
	if err != nil || n.Spec.Templates[1].Container.Resources.Limits.Memory().String() != "384Mi" {
		t.Fatalf("new workflow %v, %v", n, err)
	}
	old, _ := argo.ArgoprojV1alpha1().Workflows("team-a").Get(ctx, "etl", metav1.GetOptions{})
	if old.Labels[LabelHandled] != "resubmitted" || old.Annotations[AnnotationResubmittedAs] != "etl-oom-1" {
		t.Errorf("the ended workflow is not marked: %v %v", old.Labels, old.Annotations)
	}
	// Asked again (the next check, another replica): nothing more.
	reports, done, err = r.Handle(ctx, "team-a", "etl", []string{"etl-1"})
	if err != nil || !done || len(reports) != 0 || creates(argo) != 1 {
		t.Errorf("again: reports %+v, done %v, err %v, %d creates", reports, done, err, creates(argo))
	}
}

// TestHandleAfterALostMark: a run created the new workflow and died before
// marking the ended one; the next finds it by name, sees it is its own,
// and reports it as not created by itself.
func TestHandleAfterALostMark(t *testing.T) {
	ctx := context.Background()
	wf := failedWorkflow()
	d := Decide(Input{Workflow: wf, OptedIn: true, Rescued: []string{"etl-1"}, Limits: limits})
	r, argo := newResubmitter([]runtime.Object{wf, Formulate(wf, d)}, rescueEvent(wf))
	reports, done, err := r.Handle(ctx, "team-a", "etl", nil)
	if err != nil || !done || len(reports) != 1 || reports[0].Created {
		t.Fatalf("reports %+v, done %v, err %v", reports, done, err)
	}
	if list, _ := argo.ArgoprojV1alpha1().Workflows("team-a").List(ctx, metav1.ListOptions{}); len(list.Items) != 2 {
		t.Errorf("%d workflows, want 2", len(list.Items))
	}
}

func TestHandleRefusesANameTakenByAnother(t *testing.T) {
	wf := failedWorkflow()
	squatter := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "etl-oom-1", Namespace: "team-a"}}
	r, argo := newResubmitter([]runtime.Object{wf, squatter}, rescueEvent(wf))
	_, done, err := r.Handle(context.Background(), "team-a", "etl", nil)
	if err == nil || done || !strings.Contains(err.Error(), "is not the resubmission of etl") {
		t.Fatalf("done %v, err %v", done, err)
	}
	old, _ := argo.ArgoprojV1alpha1().Workflows("team-a").Get(context.Background(), "etl", metav1.GetOptions{})
	if old.Labels[LabelHandled] != "" {
		t.Error("marked handled after a failed resubmit")
	}
}

func TestHandleWritesNothingWithoutOptIn(t *testing.T) {
	wf := failedWorkflow()
	delete(wf.Labels, KeyOptIn)
	r, argo := newResubmitter([]runtime.Object{wf}, rescueEvent(wf))
	reports, done, err := r.Handle(context.Background(), "team-a", "etl", []string{"etl-1"})
	if err != nil || !done || len(reports) != 0 {
		t.Fatalf("reports %+v, done %v, err %v", reports, done, err)
	}
	for _, a := range argo.Actions() {
		if a.GetVerb() != "get" {
			t.Errorf("wrote: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestHandleReadsTheWorkflowTemplatesOptIn(t *testing.T) {
	wf := failedWorkflow()
	delete(wf.Labels, KeyOptIn)
	stored := wf.Spec
	wf.Spec, wf.Status.StoredWorkflowSpec = wfv1.WorkflowSpec{WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: "etl"}}, &stored
	tmpl := &wfv1.WorkflowTemplate{ObjectMeta: metav1.ObjectMeta{Name: "etl", Namespace: "team-a",
		Annotations: map[string]string{KeyOptIn: "true"}}}
	r, _ := newResubmitter([]runtime.Object{wf, tmpl}, rescueEvent(wf))
	reports, _, err := r.Handle(context.Background(), "team-a", "etl", nil)
	if err != nil || len(reports) != 1 || reports[0].Kind != KindResubmitted {
		t.Fatalf("reports %+v, err %v", reports, err)
	}
}

func TestHandleWaitsForTheEnd(t *testing.T) {
	wf := failedWorkflow()
	wf.Status.Phase = wfv1.WorkflowRunning
	r, _ := newResubmitter([]runtime.Object{wf}, rescueEvent(wf))
	if reports, done, err := r.Handle(context.Background(), "team-a", "etl", nil); err != nil || done || len(reports) != 0 {
		t.Fatalf("reports %+v, done %v, err %v", reports, done, err)
	}
}

// TestHandleReportsTheEndOfAResubmittedWorkflow: a chain's workflow that
// succeeded is reported once, and marked.
func TestHandleReportsTheEndOfAResubmittedWorkflow(t *testing.T) {
	ctx := context.Background()
	wf := failedWorkflow()
	d := Decide(Input{Workflow: wf, OptedIn: true, Rescued: []string{"etl-1"}, Limits: limits})
	n := Formulate(wf, d)
	n.UID, n.Status.Phase = "uid-1", wfv1.WorkflowSucceeded
	n.Labels[labelCompleted] = "true"
	r, argo := newResubmitter([]runtime.Object{n})
	f := &Follower{Resubmitter: r, Log: r.Log}
	var got []Report
	f.Report = func(_ context.Context, rep Report) { got = append(got, rep) }
	f.Check(ctx, metav1.Now().Time)
	f.Check(ctx, metav1.Now().Time)
	if len(got) != 1 || got[0].Kind != KindEnded || got[0].Decision.Attempt != 1 || got[0].Decision.Root != "etl" {
		t.Fatalf("reports %+v", got)
	}
	if creates(argo) != 0 {
		t.Error("a succeeded workflow was resubmitted")
	}
}

// TestFollowerRetriesAfterAnError: a failed create leaves the workflow
// followed, and the next check does it.
func TestFollowerRetriesAfterAnError(t *testing.T) {
	ctx := context.Background()
	wf := failedWorkflow()
	r, argo := newResubmitter([]runtime.Object{wf})
	fail := true
	argo.PrependReactor("create", "workflows", func(k8stesting.Action) (bool, runtime.Object, error) {
		if fail {
			fail = false
			return true, nil, context.DeadlineExceeded
		}
		return false, nil, nil
	})
	f := &Follower{Resubmitter: r, Log: r.Log}
	var got []Report
	f.Report = func(_ context.Context, rep Report) { got = append(got, rep) }
	f.Rescued("team-a", "etl", "etl-1", metav1.Now().Time)
	f.Check(ctx, metav1.Now().Time)
	if len(got) != 0 || f.Pending() != 1 {
		t.Fatalf("after the failure: %d reports, %d pending", len(got), f.Pending())
	}
	f.Check(ctx, metav1.Now().Time)
	if len(got) != 1 || got[0].Kind != KindResubmitted || f.Pending() != 0 {
		t.Fatalf("after the retry: reports %+v, %d pending", got, f.Pending())
	}
}

// TestHandleStopsFollowingARunningWorkflowNotOptedIn: a rescued workflow
// still running, opted in by nothing it could carry (no label, annotation
// or WorkflowTemplate, not a chain member), is let go at once; one opted in
// is followed until it ends.
func TestHandleStopsFollowingARunningWorkflowNotOptedIn(t *testing.T) {
	for _, tc := range []struct {
		name     string
		optIn    bool
		template bool
		wantDone bool
	}{
		{"not opted in", false, false, true},
		{"opted in by label", true, false, false},
		{"from a WorkflowTemplate (it may opt in)", false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wf := failedWorkflow()
			wf.Status.Phase = wfv1.WorkflowRunning
			if !tc.optIn {
				delete(wf.Labels, KeyOptIn)
			}
			if tc.template {
				wf.Spec.WorkflowTemplateRef = &wfv1.WorkflowTemplateRef{Name: "etl"}
			}
			r, argo := newResubmitter([]runtime.Object{wf}, rescueEvent(wf))
			reports, done, err := r.Handle(context.Background(), "team-a", "etl", nil)
			if err != nil || done != tc.wantDone || len(reports) != 0 || creates(argo) != 0 {
				t.Fatalf("reports %+v, done %v (want %v), err %v, creates %d", reports, done, tc.wantDone, err, creates(argo))
			}
		})
	}
}
