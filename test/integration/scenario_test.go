package integration

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/argoproj/argo-workflows/v3/pkg/apis/workflow"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/kubeevent"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/kubelet"
)

// scenario is one workflow with one pod node, in a namespace of its own.
type scenario struct {
	t      testing.TB
	ns     string
	wf     *wfv1.Workflow
	nodeID string
	pod    *corev1.Pod
	k      kubelet.Kubelet
}

// newScenario creates a Running workflow whose node has the given phase and
// status entry (nil: none), and the node's pod, running.
func newScenario(t testing.TB, nodePhase wfv1.NodePhase, entry *bool) *scenario {
	t.Helper()
	ctx := context.Background()
	ns := env.NewNamespace(t)
	s := &scenario{t: t, ns: ns, k: kubelet.Kubelet{Kube: env.Kube, Argo: env.Argo}}
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: "etl-nightly", Namespace: ns, Labels: map[string]string{common.LabelKeyCompleted: "false"}},
		Spec: wfv1.WorkflowSpec{Entrypoint: "main", Templates: []wfv1.Template{{Name: "main",
			Container: &corev1.Container{Image: "busybox", Command: []string{"sh", "-c", "head -c 1G /dev/zero | tail"}}}}},
	}
	wf, err := env.Argo.ArgoprojV1alpha1().Workflows(ns).Create(ctx, wf, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.nodeID = wf.Name // a single-pod workflow's node ID is the workflow name
	s.pod = s.createPod(ctx, wf)
	now := metav1.Now()
	node := wfv1.NodeStatus{ID: s.nodeID, Name: wf.Name, DisplayName: wf.Name, Type: wfv1.NodeTypePod, TemplateName: "main",
		Phase: nodePhase, StartedAt: metav1.NewTime(now.Add(-time.Minute))}
	if nodePhase.Fulfilled() {
		node.FinishedAt = now
		node.Message = "OOMKilled (exit code 137)"
	}
	wf.Status = wfv1.WorkflowStatus{Phase: wfv1.WorkflowRunning, StartedAt: node.StartedAt, Nodes: wfv1.Nodes{s.nodeID: node}}
	if entry != nil {
		wf.Status.TaskResultsCompletionStatus = map[string]bool{s.nodeID: *entry}
	}
	if s.wf, err = env.Argo.ArgoprojV1alpha1().Workflows(ns).Update(ctx, wf, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return s
}

// createPod creates the node's pod as the controller would, and has the
// kubelet start it.
func (s *scenario) createPod(ctx context.Context, wf *wfv1.Workflow) *corev1.Pod {
	s.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: wf.Name, Namespace: wf.Namespace,
			Labels:      map[string]string{common.LabelKeyWorkflow: wf.Name, common.LabelKeyCompleted: "false"},
			Annotations: map[string]string{common.AnnotationKeyNodeID: s.nodeID, common.AnnotationKeyNodeName: wf.Name},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: workflow.APIVersion, Kind: workflow.WorkflowKind,
				Name: wf.Name, UID: wf.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:      corev1.RestartPolicyNever,
			ServiceAccountName: "default",
			InitContainers:     []corev1.Container{{Name: common.InitContainerName, Image: "quay.io/argoproj/argoexec:v3.5.8"}},
			Containers: []corev1.Container{
				{Name: common.WaitContainerName, Image: "quay.io/argoproj/argoexec:v3.5.8"},
				{Name: common.MainContainerName, Image: "busybox", Resources: corev1.ResourceRequirements{
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}},
			},
		},
	}
	p, err := env.Kube.CoreV1().Pods(wf.Namespace).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	if p, err = s.k.Start(ctx, p.Namespace, p.Name); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// markNode sets the node's phase as the controller does when it sees the
// pod end or vanish: finished now, with a message.
func (s *scenario) markNode(phase wfv1.NodePhase, message string) {
	s.t.Helper()
	ctx := context.Background()
	wf, err := env.Argo.ArgoprojV1alpha1().Workflows(s.ns).Get(ctx, s.wf.Name, metav1.GetOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	n := wf.Status.Nodes[s.nodeID]
	n.Phase, n.Message, n.FinishedAt = phase, message, metav1.Now()
	wf.Status.Nodes[s.nodeID] = n
	if s.wf, err = env.Argo.ArgoprojV1alpha1().Workflows(s.ns).Update(ctx, wf, metav1.UpdateOptions{}); err != nil {
		s.t.Fatal(err)
	}
}

func (s *scenario) initializeOutput() {
	s.t.Helper()
	if _, err := s.k.InitializeOutput(context.Background(), s.wf, s.nodeID); err != nil {
		s.t.Fatal(err)
	}
}

func (s *scenario) target() remediate.Target {
	return remediate.Target{Namespace: s.ns, Workflow: s.wf.Name, NodeID: s.nodeID, PodName: s.pod.Name,
		PodUID: string(s.pod.UID), Trigger: "OOMKilled"}
}

func (s *scenario) taskResult() *wfv1.WorkflowTaskResult {
	s.t.Helper()
	tr, err := env.Argo.ArgoprojV1alpha1().WorkflowTaskResults(s.ns).Get(context.Background(), s.nodeID, metav1.GetOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	return tr
}

// standInForController ends the workflow as Argo's controller would once
// the task result is complete (see kubelet.StandInForController). Giving
// up is a failure unless the test ended it first (its context cancelled).
func (s *scenario) standInForController(ctx context.Context) {
	if err := s.k.StandInForController(ctx, s.ns, s.wf.Name, s.nodeID, time.Minute); err != nil && ctx.Err() == nil {
		s.t.Errorf("%v", err)
	}
}

// remediator builds the real remediator on cfg (admin when nil).
func remediator(t *testing.T, cfg *rest.Config, opts remediate.Options) *remediate.Remediator {
	t.Helper()
	if cfg == nil {
		cfg = env.Config
	}
	kube := kubernetes.NewForConfigOrDie(cfg)
	argo := versioned.NewForConfigOrDie(cfg)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if opts.Identity == "" {
		opts.Identity = "remediator-it"
	}
	if opts.Deadline == 0 {
		opts.Deadline = time.Minute
	}
	if opts.VerifyTimeout == 0 {
		opts.VerifyTimeout = 30 * time.Second
	}
	rec := kubeevent.Recorder{Kube: kube, Instance: opts.Identity, Log: log, Now: time.Now}
	return remediate.New(kube, argo, rec, nil, log, opts)
}

func ptr[T any](v T) *T { return &v }

// waitUntil polls cond until it holds or a minute passes.
func waitUntil(t testing.TB, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, time.Minute, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
