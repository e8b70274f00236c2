package remediate

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argofake "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

const (
	ns     = "team-a"
	wfName = "etl-nightly"
	wfUID  = "2b7a6a4e-0000-4000-8000-000000000001"
	nodeID = "etl-nightly-3311720384"
	pod    = "etl-nightly-main-3311720384"
	podUID = "9c1d2f35-0000-4000-8000-000000000002"
)

// env is a remediator over fake clientsets, with what it recorded.
type env struct {
	kube   *kubefake.Clientset
	argo   *argofake.Clientset
	events *recordedEvents
	opts   Options
}

type recordedEvents struct {
	mu  sync.Mutex
	got []string
}

func (r *recordedEvents) Record(_ context.Context, ref WorkflowRef, warning bool, reason, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, reason)
}

func (r *recordedEvents) reasons() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func newEnv(t *testing.T, kubeObjs []runtime.Object, argoObjs ...runtime.Object) *env {
	t.Helper()
	return &env{
		kube:   kubefake.NewSimpleClientset(kubeObjs...),
		argo:   argofake.NewSimpleClientset(argoObjs...),
		events: &recordedEvents{},
		opts: Options{Grace: 30 * time.Second, Deadline: 10 * time.Second, VerifyTimeout: 5 * time.Second,
			Identity: "remediator-test"},
	}
}

func (e *env) remediator() *Remediator {
	return New(e.kube, e.argo, e.events, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), e.opts)
}

func target() Target {
	return Target{Namespace: ns, Workflow: wfName, NodeID: nodeID, PodName: pod, PodUID: podUID, Trigger: "OOMKilled"}
}

// run runs the remediator in the background; the result arrives on the channel.
func (e *env) run(ctx context.Context, t Target) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := e.remediator().Run(ctx, t)
		ch <- outcome{res, err}
	}()
	return ch
}

type outcome struct {
	res Result
	err error
}

func (e *env) taskResult(t *testing.T) *wfv1.WorkflowTaskResult {
	t.Helper()
	tr, err := e.argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).Get(context.Background(), nodeID, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting the task result: %v", err)
	}
	return tr
}

// writes lists the write actions the fakes saw.
func (e *env) writes() []string {
	var out []string
	for _, fk := range []*k8stesting.Fake{&e.kube.Fake, &e.argo.Fake} {
		for _, a := range fk.Actions() {
			switch a.GetVerb() {
			case "create", "update", "patch", "delete":
				out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
			}
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 5*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// watching tells whether the remediator has a watch open on resource.
func watching(fk *k8stesting.Fake, resource string) func() bool {
	return func() bool {
		for _, a := range fk.Actions() {
			if a.GetVerb() == "watch" && a.GetResource().Resource == resource {
				return true
			}
		}
		return false
	}
}

// actAsController plays Argo's controller: once the task result's label is
// true, it copies it into the workflow status and fails the workflow. It
// keeps re-writing the workflow until the test ends, as a controller's
// reconciles do: fake watches do not replay what happened between a list
// and a watch, so a single write could be missed.
func (e *env) actAsController(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	waitFor(t, "the task result to be completed", func() bool {
		tr, err := e.argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).Get(ctx, nodeID, metav1.GetOptions{})
		return err == nil && tr.Labels[LabelCompleted] == "true"
	})
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		wf, err := e.argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, wfName, metav1.GetOptions{})
		if err != nil {
			return
		}
		wf.Status.MarkTaskResultComplete(nodeID)
		wf.Status.Phase = wfv1.WorkflowFailed
		if wf.Status.FinishedAt.IsZero() {
			wf.Status.FinishedAt = metav1.Now()
		}
		_, _ = e.argo.ArgoprojV1alpha1().Workflows(ns).Update(ctx, wf, metav1.UpdateOptions{})
	}, 20*time.Millisecond)
}

func receive(t *testing.T, ch <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(15 * time.Second):
		t.Fatal("the remediator did not finish")
	}
	return outcome{}
}
