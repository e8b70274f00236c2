package support

import (
	"context"
	"slices"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
)

// Stuck is one Running workflow with one pod node, in a namespace of its
// own on a real API server: the objects internal/fixtures describes,
// created as the controller and the executor create them, with the
// kubelet played by K.
type Stuck struct {
	T      testing.TB
	C      *cluster.Cluster
	NS     string
	WF     *wfv1.Workflow
	NodeID string
	Pod    *corev1.Pod
	K      kubelet.Kubelet
}

// NewStuck creates a Running workflow whose node has the given phase and
// status entry (nil: none), and the node's pod, running (wait and main
// started). The task result is not created: call InitializeOutput.
func NewStuck(t testing.TB, c *cluster.Cluster, nodePhase wfv1.NodePhase, entry *bool) *Stuck {
	t.Helper()
	ctx := context.Background()
	s := &Stuck{T: t, C: c, NS: c.NewNamespace(t), K: kubelet.Kubelet{Kube: c.Kube, Argo: c.Argo}}
	wfs := c.Argo.ArgoprojV1alpha1().Workflows(s.NS)
	want := fixtures.Workflow(s.NS, "etl-nightly", "", "etl-nightly", nodePhase, entry, time.Now())
	want.TypeMeta = metav1.TypeMeta{}
	want.Labels = map[string]string{common.LabelKeyCompleted: "false"}
	want.Spec.Templates[0].Container.Command = []string{"sh", "-c", "head -c 1G /dev/zero | tail"}
	status := want.Status
	want.Status = wfv1.WorkflowStatus{}
	wf, err := wfs.Create(ctx, want, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.NodeID = wf.Name // a single-pod workflow's node ID is the workflow name

	pod := fixtures.Pod(wf, s.NodeID, wf.Name, "", fixtures.WaitRunning)
	pod.TypeMeta, pod.Status = metav1.TypeMeta{}, corev1.PodStatus{}
	pod.OwnerReferences[0].Controller, pod.OwnerReferences[0].BlockOwnerDeletion = fixtures.Bool(true), fixtures.Bool(true)
	pod.Spec.ServiceAccountName = "default"
	pod.Spec.InitContainers = []corev1.Container{{Name: common.InitContainerName, Image: pod.Spec.Containers[0].Image}}
	if pod, err = c.Kube.CoreV1().Pods(s.NS).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if s.Pod, err = s.K.Start(ctx, s.NS, pod.Name); err != nil {
		t.Fatal(err)
	}

	if n := status.Nodes[s.NodeID]; nodePhase == wfv1.NodeFailed {
		n.Message = "OOMKilled (exit code 137)"
		status.Nodes[s.NodeID] = n
	}
	wf.Status = status
	if s.WF, err = wfs.Update(ctx, wf, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return s
}

// MarkNode sets the node's phase as the controller does when it sees the
// pod end or vanish: finished now, with a message.
func (s *Stuck) MarkNode(phase wfv1.NodePhase, message string) {
	s.T.Helper()
	ctx := context.Background()
	wf, err := s.C.Argo.ArgoprojV1alpha1().Workflows(s.NS).Get(ctx, s.WF.Name, metav1.GetOptions{})
	if err != nil {
		s.T.Fatal(err)
	}
	n := wf.Status.Nodes[s.NodeID]
	n.Phase, n.Message, n.FinishedAt = phase, message, metav1.Now()
	wf.Status.Nodes[s.NodeID] = n
	if s.WF, err = s.C.Argo.ArgoprojV1alpha1().Workflows(s.NS).Update(ctx, wf, metav1.UpdateOptions{}); err != nil {
		s.T.Fatal(err)
	}
}

// InitializeOutput creates the task result as the wait container does when
// it starts (label "false").
func (s *Stuck) InitializeOutput() {
	s.T.Helper()
	if _, err := s.K.InitializeOutput(context.Background(), s.WF, s.NodeID); err != nil {
		s.T.Fatal(err)
	}
}

// OOMKill plays the kubelet: main OOMKilled, wait as end says.
func (s *Stuck) OOMKill(end kubelet.WaitEnd) {
	s.T.Helper()
	if _, err := s.K.OOMKill(context.Background(), s.NS, s.Pod.Name, end); err != nil {
		s.T.Fatal(err)
	}
}

// FinishNormally plays a healthy end after an OOM of main: the wait
// container finalizes the task result itself (label "true") and exits 0.
func (s *Stuck) FinishNormally() {
	s.T.Helper()
	ctx := context.Background()
	s.OOMKill(kubelet.WaitKeepsRunning)
	if err := s.K.FinalizeOutput(ctx, s.NS, s.NodeID, nil); err != nil {
		s.T.Fatal(err)
	}
	if _, err := s.K.WaitExit(ctx, s.NS, s.Pod.Name, 0); err != nil {
		s.T.Fatal(err)
	}
}

// TaskResult reads the node's task result.
func (s *Stuck) TaskResult() *wfv1.WorkflowTaskResult {
	s.T.Helper()
	tr, err := s.C.Argo.ArgoprojV1alpha1().WorkflowTaskResults(s.NS).Get(context.Background(), s.NodeID, metav1.GetOptions{})
	if err != nil {
		s.T.Fatal(err)
	}
	return tr
}

// Workflow reads the workflow.
func (s *Stuck) Workflow() *wfv1.Workflow {
	s.T.Helper()
	wf, err := s.C.Argo.ArgoprojV1alpha1().Workflows(s.NS).Get(context.Background(), s.WF.Name, metav1.GetOptions{})
	if err != nil {
		s.T.Fatal(err)
	}
	return wf
}

// Target is the node as a Sensor's Job names it.
func (s *Stuck) Target() remediate.Target {
	return remediate.Target{Namespace: s.NS, Workflow: s.WF.Name, NodeID: s.NodeID, PodName: s.Pod.Name,
		PodUID: string(s.Pod.UID), Trigger: "OOMKilled"}
}

// Env is the Job's environment for the node: the remediator talks to the
// API server with cfg (a proxy's, or the admin's) and sends its CloudEvent
// to sinkURL (none when empty); extra comes last and wins.
func (s *Stuck) Env(cfg *rest.Config, sinkURL string, extra map[string]string) []string {
	s.T.Helper()
	env := map[string]string{
		"REMEDIATOR_KUBECONFIG": Kubeconfig(s.T, s.T.TempDir(), "kubeconfig", cfg),
		"REMEDIATOR_NAMESPACE":  s.NS, "REMEDIATOR_WORKFLOW": s.WF.Name, "REMEDIATOR_NODE_ID": s.NodeID,
		"REMEDIATOR_POD_NAME": s.Pod.Name, "REMEDIATOR_POD_UID": string(s.Pod.UID), "REMEDIATOR_REASON": "OOMKilled",
		"REMEDIATOR_LOG_FORMAT": "json",
	}
	if sinkURL != "" {
		env["REMEDIATOR_SINK_URL"] = sinkURL
	}
	return EnvList(Merge(env, extra))
}

// StandInForController ends the workflow as Argo's controller would once
// the task result is complete (see kubelet.StandInForController). Giving
// up within is a failure unless the test ended it first (ctx cancelled).
func (s *Stuck) StandInForController(ctx context.Context, within time.Duration) {
	if err := s.K.StandInForController(ctx, s.NS, s.WF.Name, s.NodeID, within); err != nil && ctx.Err() == nil {
		s.T.Errorf("%v", err)
	}
}

// Events lists the Kubernetes Events on the workflow as "Type Reason",
// sorted; an Event on another object of that name fails the test.
func (s *Stuck) Events() []string {
	s.T.Helper()
	evs, err := s.C.Kube.CoreV1().Events(s.NS).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + s.WF.Name})
	if err != nil {
		s.T.Fatal(err)
	}
	var out []string
	for _, e := range evs.Items {
		if e.InvolvedObject.UID != s.WF.UID {
			s.T.Errorf("event %s on UID %s, want %s", e.Reason, e.InvolvedObject.UID, s.WF.UID)
		}
		out = append(out, e.Type+" "+e.Reason)
	}
	slices.Sort(out)
	return out
}
