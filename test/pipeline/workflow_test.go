package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// running is a submitted workflow whose one pod runs and whose wait
// container has created its task result (report-outputs-completed=false).
type running struct {
	WF     *wfv1.Workflow
	Pod    *corev1.Pod
	NodeID string
}

func workflow(name string) *wfv1.Workflow {
	return &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: wfv1.WorkflowSpec{Entrypoint: "transform", Templates: []wfv1.Template{{
			Name: "transform",
			Container: &corev1.Container{Image: "python:3.12-slim", Command: []string{"python", "-c", "x = bytearray(512 << 20)"},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}},
		}}},
	}
}

// submitRunning submits workflow name to the v3.5.8 controller and plays
// the kubelet and the executor until the controller sees the node Running.
func (p *pipeline) submitRunning(ctx context.Context, name string) (*running, error) {
	wf, err := p.C.Argo.ArgoprojV1alpha1().Workflows(p.NS).Create(ctx, workflow(name), metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	r := &running{WF: wf}
	err = support.Until(ctx, time.Minute, func(ctx context.Context) (bool, error) {
		pods, err := p.C.Kube.CoreV1().Pods(p.NS).List(ctx, metav1.ListOptions{LabelSelector: "workflows.argoproj.io/workflow=" + name})
		if err != nil || len(pods.Items) == 0 {
			return false, err
		}
		r.Pod = &pods.Items[0]
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("no pod for workflow %s: %w", name, err)
	}
	r.NodeID = r.Pod.Annotations["workflows.argoproj.io/node-id"]
	if r.Pod, err = p.Kubelet.Start(ctx, p.NS, r.Pod.Name); err != nil {
		return nil, err
	}
	if _, err := p.Kubelet.InitializeOutput(ctx, wf, r.NodeID); err != nil {
		return nil, err
	}
	err = support.Until(ctx, time.Minute, func(ctx context.Context) (bool, error) {
		got, err := p.C.Argo.ArgoprojV1alpha1().Workflows(p.NS).Get(ctx, name, metav1.GetOptions{})
		return err == nil && got.Status.Nodes[r.NodeID].Phase == wfv1.NodeRunning, err
	})
	if err != nil {
		return nil, fmt.Errorf("the controller never saw workflow %s's pod run: %w", name, err)
	}
	return r, nil
}

// oomKill kills main with OOMKilled and wait with it (exit 137, never
// finalizing its outputs): the workflow is stuck Running on v3.5.8 until
// someone completes its task result. Returns when the kubelet wrote it.
func (p *pipeline) oomKill(ctx context.Context, r *running) (time.Time, error) {
	_, err := p.Kubelet.OOMKill(ctx, p.NS, r.Pod.Name, kubelet.WaitKilled)
	return time.Now(), err
}

// workflowPhases returns the phase of every workflow of the namespace.
func (p *pipeline) workflowPhases(ctx context.Context) (map[string]wfv1.WorkflowPhase, error) {
	list, err := p.C.Argo.ArgoprojV1alpha1().Workflows(p.NS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make(map[string]wfv1.WorkflowPhase, len(list.Items))
	for _, wf := range list.Items {
		out[wf.Name] = wf.Status.Phase
	}
	return out, nil
}
