package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

func boolp(b bool) *bool { return &b }

type run struct {
	res remediate.Result
	err error
}

func start(r *remediate.Remediator, t remediate.Target) <-chan run {
	ch := make(chan run, 1)
	go func() {
		res, err := r.Run(context.Background(), t)
		ch <- run{res, err}
	}()
	return ch
}

func finish(t *testing.T, ch <-chan run) run {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(2 * time.Minute):
		t.Fatal("the remediator did not finish within 2 minutes")
	}
	return run{}
}

func TestPodGoneCompletedAfterGrace(t *testing.T) {
	s := newScenario(t, wfv1.NodeRunning, boolp(false))
	s.initializeOutput()
	ctx := context.Background()
	// The pod vanishes with wait never seen terminated; the controller
	// notices and marks the node.
	gone := time.Now()
	if err := s.k.Delete(ctx, s.ns, s.pod.Name); err != nil {
		t.Fatal(err)
	}
	s.markNode(wfv1.NodeError, "pod deleted")
	grace := 2 * time.Second
	done := start(remediator(t, nil, remediate.Options{Grace: grace}), s.target())
	go s.standInForController(ctx)
	r := finish(t, done)
	if r.err != nil || r.res.Outcome != remediate.OutcomeRemediated || r.res.Reason != decide.ReasonPodGoneGraceElapsed {
		t.Fatalf("got %s (%s), %v", r.res.Outcome, r.res.Reason, r.err)
	}
	if took := r.res.Acted.Sub(gone); took < grace {
		t.Errorf("completed %s after the pod vanished, inside the %s grace", took, grace)
	}
	tr := s.taskResult()
	if tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" || tr.Annotations[remediate.AnnotationRemediatedBy] != "remediator-it" ||
		tr.Annotations[remediate.AnnotationReason] != string(decide.ReasonPodGoneGraceElapsed) {
		t.Errorf("task result labels %v annotations %v", tr.Labels, tr.Annotations)
	}
	evs, err := env.Kube.CoreV1().Events(s.ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + s.wf.Name})
	if err != nil || len(evs.Items) != 1 || evs.Items[0].Reason != "TaskResultComplete" || evs.Items[0].InvolvedObject.UID != s.wf.UID {
		t.Errorf("events %+v (%v)", evs, err)
	}
}

func TestWaitTerminatedCompletedAtOnce(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, boolp(false))
	s.initializeOutput()
	ctx := context.Background()
	if _, err := s.k.OOMKill(ctx, s.ns, s.pod.Name, kubelet.WaitKilled); err != nil {
		t.Fatal(err)
	}
	done := start(remediator(t, nil, remediate.Options{Grace: time.Hour, Deadline: 2 * time.Hour}), s.target())
	go s.standInForController(ctx)
	r := finish(t, done)
	if r.err != nil || r.res.Outcome != remediate.OutcomeRemediated || r.res.Reason != decide.ReasonWaitTerminated {
		t.Fatalf("got %s (%s), %v", r.res.Outcome, r.res.Reason, r.err)
	}
	if r.res.Waited > 5*time.Second {
		t.Errorf("waited %s with wait proven terminated", r.res.Waited)
	}
	var oom bool
	for _, c := range r.res.Containers {
		oom = oom || (c.Name == "main" && c.Reason == "OOMKilled" && *c.ExitCode == 137 && c.MemoryLimit == "64Mi")
	}
	if !oom {
		t.Errorf("containers %+v", r.res.Containers)
	}
}

func TestExecutorFinalizesWhileWaiting(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, boolp(false))
	s.initializeOutput()
	ctx := context.Background()
	if _, err := s.k.OOMKill(ctx, s.ns, s.pod.Name, kubelet.WaitKeepsRunning); err != nil {
		t.Fatal(err)
	}
	watching := newWatchSignal("workflowtaskresults")
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(watching.wrap)
	done := start(remediator(t, cfg, remediate.Options{Grace: time.Second}), s.target())
	select {
	case <-watching.ch:
	case <-time.After(time.Minute):
		t.Fatal("the remediator never started waiting")
	}
	// The executor saves its outputs and finalizes, as a healthy wait does.
	out := &wfv1.Outputs{Parameters: []wfv1.Parameter{{Name: "rows", Value: wfv1.AnyStringPtr("42")}}}
	if err := s.k.FinalizeOutput(ctx, s.ns, s.nodeID, out); err != nil {
		t.Fatal(err)
	}
	r := finish(t, done)
	if r.err != nil || r.res.Outcome != remediate.OutcomeNotStuck || r.res.Reason != decide.ReasonTaskResultComplete || r.res.Wrote() {
		t.Fatalf("got %s (%s) wrote=%v, %v", r.res.Outcome, r.res.Reason, r.res.Wrote(), r.err)
	}
	tr := s.taskResult()
	if tr.Annotations[remediate.AnnotationRemediatedAt] != "" || tr.Outputs == nil || tr.Outputs.Parameters[0].Value.String() != "42" {
		t.Errorf("task result touched or outputs lost: %v %+v", tr.Annotations, tr.Outputs)
	}
}

func TestPodAliveWholeDeadlineWritesNothing(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, boolp(false))
	s.initializeOutput()
	before := s.taskResult().ResourceVersion
	r := finish(t, start(remediator(t, nil, remediate.Options{Grace: time.Second, Deadline: 2 * time.Second}), s.target()))
	if r.err != nil || r.res.Outcome != remediate.OutcomeDeadlineExceeded || r.res.Reason != decide.ReasonWaitRunning {
		t.Fatalf("got %s (%s), %v", r.res.Outcome, r.res.Reason, r.err)
	}
	if after := s.taskResult().ResourceVersion; after != before {
		t.Errorf("task result written: resourceVersion %s → %s", before, after)
	}
}

func TestLegacyPathCreatesTaskResult(t *testing.T) {
	s := newScenario(t, wfv1.NodeError, boolp(false)) // no task result: annotation path
	ctx := context.Background()
	if err := s.k.Delete(ctx, s.ns, s.pod.Name); err != nil {
		t.Fatal(err)
	}
	done := start(remediator(t, nil, remediate.Options{}), s.target())
	go s.standInForController(ctx)
	r := finish(t, done)
	if r.err != nil || r.res.Outcome != remediate.OutcomeRemediated || r.res.Action != "create" {
		t.Fatalf("got %s (%s), %v", r.res.Outcome, r.res.Action, r.err)
	}
	tr := s.taskResult()
	refs := tr.OwnerReferences
	if tr.Labels[common.LabelKeyWorkflow] != s.wf.Name || tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" ||
		len(refs) != 1 || refs[0].UID != s.wf.UID || refs[0].Kind != "Workflow" || refs[0].APIVersion != "argoproj.io/v1alpha1" {
		t.Errorf("created task result %+v", tr.ObjectMeta)
	}
	// There is no kube-controller-manager here to garbage-collect it when
	// the Workflow goes; the ownerReference above is what makes it happen.
}

func TestConcurrentWriterIsNotOverwritten(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, boolp(false))
	s.initializeOutput()
	ctx := context.Background()
	if _, err := s.k.OOMKill(ctx, s.ns, s.pod.Name, kubelet.WaitKilled); err != nil {
		t.Fatal(err)
	}
	// Between the remediator's read and its patch, another writer changes
	// the task result (the request hook runs the write before the patch).
	var once sync.Once
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodPatch && strings.Contains(req.URL.Path, "/workflowtaskresults/") {
				once.Do(func() {
					patch := []byte(`{"metadata":{"annotations":{"someone-else":"was-here"}}}`)
					if _, err := env.Argo.ArgoprojV1alpha1().WorkflowTaskResults(s.ns).Patch(ctx, s.nodeID, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
						t.Errorf("concurrent write: %v", err)
					}
				})
			}
			return rt.RoundTrip(req)
		})
	})
	counter := &patchCounter{}
	cfg.Wrap(counter.wrap)
	done := start(remediator(t, cfg, remediate.Options{}), s.target())
	go s.standInForController(ctx)
	r := finish(t, done)
	if r.err != nil || r.res.Outcome != remediate.OutcomeRemediated {
		t.Fatalf("got %s, %v", r.res.Outcome, r.err)
	}
	tr := s.taskResult()
	if tr.Annotations["someone-else"] != "was-here" || tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" {
		t.Errorf("lost update: %v %v", tr.Labels, tr.Annotations)
	}
	if got := counter.statuses(); len(got) != 2 || got[0] != http.StatusConflict || got[1] != http.StatusOK {
		t.Errorf("patch statuses %v, want [409 200]", got)
	}
}

func TestFiveRemediatorsOneWrite(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, boolp(false))
	s.initializeOutput()
	ctx := context.Background()
	if _, err := s.k.OOMKill(ctx, s.ns, s.pod.Name, kubelet.WaitKilled); err != nil {
		t.Fatal(err)
	}
	counter := &patchCounter{}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(counter.wrap)
	var runs []<-chan run
	for i := range 5 {
		runs = append(runs, start(remediator(t, cfg, remediate.Options{Identity: fmt.Sprintf("remediator-%d", i)}), s.target()))
	}
	go s.standInForController(ctx)
	wrote := 0
	for _, ch := range runs {
		r := finish(t, ch)
		if r.err != nil || r.res.Outcome != remediate.OutcomeRemediated || r.res.Action != "complete" {
			t.Errorf("got %s (%s), %v", r.res.Outcome, r.res.Action, r.err)
		}
		if r.res.Wrote() && !r.res.Previously {
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
	r := finish(t, start(remediator(t, nil, remediate.Options{}), tgt))
	if r.err != nil || r.res.Outcome != remediate.OutcomeWorkflowGone {
		t.Fatalf("got %s, %v", r.res.Outcome, r.err)
	}
}
