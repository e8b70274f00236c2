package rescue

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

func TestPodGoneCompletedAfterGrace(t *testing.T) {
	s := newScenario(t, wfv1.NodeRunning, fixtures.Bool(false))
	s.InitializeOutput()
	ctx := context.Background()
	// The pod vanishes with wait never seen terminated; the controller
	// notices and marks the node.
	gone := time.Now()
	if err := s.K.Delete(ctx, s.NS, s.Pod.Name); err != nil {
		t.Fatal(err)
	}
	s.MarkNode(wfv1.NodeError, "pod deleted")
	grace := 2 * time.Second
	done := support.Go(remediator(t, nil, remediate.Options{Grace: grace}), s.Target())
	go s.StandInForController(ctx, time.Minute)
	r := support.Finish(t, done)
	if r.Err != nil || r.Res.Outcome != remediate.OutcomeRemediated || r.Res.Reason != decide.ReasonPodGoneGraceElapsed {
		t.Fatalf("got %s (%s), %v", r.Res.Outcome, r.Res.Reason, r.Err)
	}
	if took := r.Res.Acted.Sub(gone); took < grace {
		t.Errorf("completed %s after the pod vanished, inside the %s grace", took, grace)
	}
	tr := s.TaskResult()
	if tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" || tr.Annotations[remediate.AnnotationRemediatedBy] != "remediator-it" ||
		tr.Annotations[remediate.AnnotationReason] != string(decide.ReasonPodGoneGraceElapsed) {
		t.Errorf("task result labels %v annotations %v", tr.Labels, tr.Annotations)
	}
	evs, err := env.Kube.CoreV1().Events(s.NS).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + s.WF.Name})
	if err != nil || len(evs.Items) != 1 || evs.Items[0].Reason != "TaskResultComplete" || evs.Items[0].InvolvedObject.UID != s.WF.UID {
		t.Errorf("events %+v (%v)", evs, err)
	}
}

func TestWaitTerminatedCompletedAtOnce(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, fixtures.Bool(false))
	s.InitializeOutput()
	ctx := context.Background()
	if _, err := s.K.OOMKill(ctx, s.NS, s.Pod.Name, kubelet.WaitKilled); err != nil {
		t.Fatal(err)
	}
	done := support.Go(remediator(t, nil, remediate.Options{Grace: time.Hour, Deadline: 2 * time.Hour}), s.Target())
	go s.StandInForController(ctx, time.Minute)
	r := support.Finish(t, done)
	if r.Err != nil || r.Res.Outcome != remediate.OutcomeRemediated || r.Res.Reason != decide.ReasonWaitTerminated {
		t.Fatalf("got %s (%s), %v", r.Res.Outcome, r.Res.Reason, r.Err)
	}
	if r.Res.Waited > 5*time.Second {
		t.Errorf("waited %s with wait proven terminated", r.Res.Waited)
	}
	var oom bool
	for _, c := range r.Res.Containers {
		oom = oom || (c.Name == "main" && c.Reason == "OOMKilled" && *c.ExitCode == 137 && c.MemoryLimit == "64Mi")
	}
	if !oom {
		t.Errorf("containers %+v", r.Res.Containers)
	}
}

func TestExecutorFinalizesWhileWaiting(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, fixtures.Bool(false))
	s.InitializeOutput()
	ctx := context.Background()
	if _, err := s.K.OOMKill(ctx, s.NS, s.Pod.Name, kubelet.WaitKeepsRunning); err != nil {
		t.Fatal(err)
	}
	watching := newWatchSignal("workflowtaskresults")
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(watching.wrap)
	done := support.Go(remediator(t, cfg, remediate.Options{Grace: time.Second}), s.Target())
	select {
	case <-watching.ch:
	case <-time.After(time.Minute):
		t.Fatal("the remediator never started waiting")
	}
	// The executor saves its outputs and finalizes, as a healthy wait does.
	out := &wfv1.Outputs{Parameters: []wfv1.Parameter{{Name: "rows", Value: wfv1.AnyStringPtr("42")}}}
	if err := s.K.FinalizeOutput(ctx, s.NS, s.NodeID, out); err != nil {
		t.Fatal(err)
	}
	r := support.Finish(t, done)
	if r.Err != nil || r.Res.Outcome != remediate.OutcomeNotStuck || r.Res.Reason != decide.ReasonTaskResultComplete || r.Res.Wrote() {
		t.Fatalf("got %s (%s) wrote=%v, %v", r.Res.Outcome, r.Res.Reason, r.Res.Wrote(), r.Err)
	}
	tr := s.TaskResult()
	if tr.Annotations[remediate.AnnotationRemediatedAt] != "" || tr.Outputs == nil || tr.Outputs.Parameters[0].Value.String() != "42" {
		t.Errorf("task result touched or outputs lost: %v %+v", tr.Annotations, tr.Outputs)
	}
}

func TestPodAliveWholeDeadlineWritesNothing(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, fixtures.Bool(false))
	s.InitializeOutput()
	before := s.TaskResult().ResourceVersion
	r := support.Finish(t, support.Go(remediator(t, nil, remediate.Options{Grace: time.Second, Deadline: 2 * time.Second}), s.Target()))
	if r.Err != nil || r.Res.Outcome != remediate.OutcomeDeadlineExceeded || r.Res.Reason != decide.ReasonWaitRunning {
		t.Fatalf("got %s (%s), %v", r.Res.Outcome, r.Res.Reason, r.Err)
	}
	if after := s.TaskResult().ResourceVersion; after != before {
		t.Errorf("task result written: resourceVersion %s → %s", before, after)
	}
}

func TestLegacyPathCreatesTaskResult(t *testing.T) {
	s := newScenario(t, wfv1.NodeError, fixtures.Bool(false)) // no task result: annotation path
	ctx := context.Background()
	if err := s.K.Delete(ctx, s.NS, s.Pod.Name); err != nil {
		t.Fatal(err)
	}
	done := support.Go(remediator(t, nil, remediate.Options{}), s.Target())
	go s.StandInForController(ctx, time.Minute)
	r := support.Finish(t, done)
	if r.Err != nil || r.Res.Outcome != remediate.OutcomeRemediated || r.Res.Action != "create" {
		t.Fatalf("got %s (%s), %v", r.Res.Outcome, r.Res.Action, r.Err)
	}
	tr := s.TaskResult()
	refs := tr.OwnerReferences
	if tr.Labels[common.LabelKeyWorkflow] != s.WF.Name || tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" ||
		len(refs) != 1 || refs[0].UID != s.WF.UID || refs[0].Kind != "Workflow" || refs[0].APIVersion != "argoproj.io/v1alpha1" {
		t.Errorf("created task result %+v", tr.ObjectMeta)
	}
	// There is no kube-controller-manager here to garbage-collect it when
	// the Workflow goes; the ownerReference above is what makes it happen.
}

func TestConcurrentWriterIsNotOverwritten(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, fixtures.Bool(false))
	s.InitializeOutput()
	ctx := context.Background()
	if _, err := s.K.OOMKill(ctx, s.NS, s.Pod.Name, kubelet.WaitKilled); err != nil {
		t.Fatal(err)
	}
	// Between the remediator's read and its patch, another writer changes
	// the task result (the request hook runs the write before the patch).
	var once sync.Once
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return support.RoundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodPatch && strings.Contains(req.URL.Path, "/workflowtaskresults/") {
				once.Do(func() {
					patch := []byte(`{"metadata":{"annotations":{"someone-else":"was-here"}}}`)
					if _, err := env.Argo.ArgoprojV1alpha1().WorkflowTaskResults(s.NS).Patch(ctx, s.NodeID, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
						t.Errorf("concurrent write: %v", err)
					}
				})
			}
			return rt.RoundTrip(req)
		})
	})
	counter := &patchCounter{}
	cfg.Wrap(counter.wrap)
	done := support.Go(remediator(t, cfg, remediate.Options{}), s.Target())
	go s.StandInForController(ctx, time.Minute)
	r := support.Finish(t, done)
	if r.Err != nil || r.Res.Outcome != remediate.OutcomeRemediated {
		t.Fatalf("got %s, %v", r.Res.Outcome, r.Err)
	}
	tr := s.TaskResult()
	if tr.Annotations["someone-else"] != "was-here" || tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" {
		t.Errorf("lost update: %v %v", tr.Labels, tr.Annotations)
	}
	if got := counter.statuses(); len(got) != 2 || got[0] != http.StatusConflict || got[1] != http.StatusOK {
		t.Errorf("patch statuses %v, want [409 200]", got)
	}
}

func TestFiveRemediatorsOneWrite(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, fixtures.Bool(false))
	s.InitializeOutput()
	ctx := context.Background()
	if _, err := s.K.OOMKill(ctx, s.NS, s.Pod.Name, kubelet.WaitKilled); err != nil {
		t.Fatal(err)
	}
	counter := &patchCounter{}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(counter.wrap)
	var runs []<-chan support.Outcome
	for i := range 5 {
		runs = append(runs, support.Go(remediator(t, cfg, remediate.Options{Identity: fmt.Sprintf("remediator-%d", i)}), s.Target()))
	}
	go s.StandInForController(ctx, time.Minute)
	wrote := 0
	for _, ch := range runs {
		r := support.Finish(t, ch)
		if r.Err != nil || r.Res.Outcome != remediate.OutcomeRemediated || r.Res.Action != "complete" {
			t.Errorf("got %s (%s), %v", r.Res.Outcome, r.Res.Action, r.Err)
		}
		if r.Res.Wrote() && !r.Res.Previously {
			wrote++
		}
	}
	ok := 0
	for _, st := range counter.statuses() {
		if st == http.StatusOK {
			ok++
		}
	}
	if wrote != 1 || ok != 1 {
		t.Errorf("%d runs wrote, %d patches succeeded; want exactly one", wrote, ok)
	}
}

func TestNotFoundNamespaceIsAnOutcome(t *testing.T) {
	tgt := remediate.Target{Namespace: "no-such-namespace", Workflow: "wf", NodeID: "wf", Trigger: "manual"}
	r := support.Finish(t, support.Go(remediator(t, nil, remediate.Options{}), tgt))
	if r.Err != nil || r.Res.Outcome != remediate.OutcomeWorkflowGone {
		t.Fatalf("got %s, %v", r.Res.Outcome, r.Err)
	}
}
