// Package kubelet plays the parts of a real node that a local control plane
// lacks: the kubelet writing pod status, and Argo's executor (the `wait`
// container) writing the node's WorkflowTaskResult exactly as
// InitializeOutput and FinalizeOutput do.
package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/argoproj/argo-workflows/v3/pkg/apis/workflow"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// WaitEnd says how the pod's wait container ends.
type WaitEnd int

const (
	// WaitKeepsRunning: only main ends; wait still runs (may still write).
	WaitKeepsRunning WaitEnd = iota
	// WaitKilled: wait is killed with the pod (exit 137): it never finalizes.
	WaitKilled
	// WaitCompleted: wait ends normally (exit 0) after finalizing.
	WaitCompleted
)

// Kubelet writes pod status and the executor's task results.
type Kubelet struct {
	Kube kubernetes.Interface
	Argo versioned.Interface
}

// updateStatus applies change to the pod's status, retrying on conflict as
// the kubelet's status manager does.
func (k Kubelet) updateStatus(ctx context.Context, ns, name string, change func(*corev1.Pod)) (*corev1.Pod, error) {
	var out *corev1.Pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := k.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(p)
		out, err = k.Kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("kubelet: updating status of pod %s/%s: %w", ns, name, err)
	}
	return out, nil
}

// Start reports the init container completed and every container running
// and ready, as a real kubelet reports it (see Running).
func (k Kubelet) Start(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	return k.updateStatus(ctx, ns, name, func(p *corev1.Pod) { Running(p, time.Now()) })
}

// OOMKill reports container `main` (every non-wait container) terminated
// OOMKilled with exit 137 and the wait container as end says. With wait
// ended, the pod phase becomes Failed.
func (k Kubelet) OOMKill(ctx context.Context, ns, name string, end WaitEnd) (*corev1.Pod, error) {
	return k.updateStatus(ctx, ns, name, func(p *corev1.Pod) { OOMKilled(end)(p, time.Now()) })
}

// OOMKilled is the status change of [Kubelet.OOMKill], for a test that
// writes the pod itself (in bulk, without a GET per update).
func OOMKilled(end WaitEnd) func(*corev1.Pod, time.Time) {
	return func(p *corev1.Pod, now time.Time) {
		for _, cs := range p.Status.ContainerStatuses {
			switch {
			case cs.Name != common.WaitContainerName:
				Terminated(cs.Name, 137, "OOMKilled")(p, now)
			case end == WaitKilled:
				Terminated(cs.Name, 137, "Error")(p, now)
			case end == WaitCompleted:
				Terminated(cs.Name, 0, "Completed")(p, now)
			}
		}
		if end != WaitKeepsRunning {
			p.Status.Message = "OOMKilled"
		}
	}
}

// Succeed reports every container terminated with exit 0, phase Succeeded.
func (k Kubelet) Succeed(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	return k.updateStatus(ctx, ns, name, func(p *corev1.Pod) { Succeeded(p, time.Now()) })
}

// Succeeded is the status change of [Kubelet.Succeed].
func Succeeded(p *corev1.Pod, now time.Time) {
	for _, cs := range p.Status.ContainerStatuses {
		Terminated(cs.Name, 0, "Completed")(p, now)
	}
}

// Delete deletes the pod at once, as pod GC or a force delete does.
func (k Kubelet) Delete(ctx context.Context, ns, name string) error {
	zero := int64(0)
	if err := k.Kube.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		return fmt.Errorf("kubelet: deleting pod %s/%s: %w", ns, name, err)
	}
	return nil
}

// InitializeOutput creates the node's task result as the wait container
// does when it starts: named after the node ID, labelled with the workflow
// and report-outputs-completed=false, owned by the Workflow.
func (k Kubelet) InitializeOutput(ctx context.Context, wf *wfv1.Workflow, nodeID string) (*wfv1.WorkflowTaskResult, error) {
	tr := &wfv1.WorkflowTaskResult{
		TypeMeta: metav1.TypeMeta{APIVersion: workflow.APIVersion, Kind: workflow.WorkflowTaskResultKind},
		ObjectMeta: metav1.ObjectMeta{
			Name: nodeID,
			Labels: map[string]string{
				common.LabelKeyWorkflow:               wf.Name,
				common.LabelKeyReportOutputsCompleted: "false",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: workflow.APIVersion, Kind: workflow.WorkflowKind, Name: wf.Name, UID: wf.UID,
			}},
		},
	}
	if id := wf.Labels[common.LabelKeyControllerInstanceID]; id != "" {
		tr.Labels[common.LabelKeyControllerInstanceID] = id
	}
	out, err := k.Argo.ArgoprojV1alpha1().WorkflowTaskResults(wf.Namespace).Create(ctx, tr, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("executor: creating workflowtaskresult %s/%s: %w", wf.Namespace, nodeID, err)
	}
	return out, nil
}

// FinalizeOutput reports outputs and flips the label to "true", with the
// executor's two merge patches (outputs first, then the label).
func (k Kubelet) FinalizeOutput(ctx context.Context, ns, nodeID string, outputs *wfv1.Outputs) error {
	trs := k.Argo.ArgoprojV1alpha1().WorkflowTaskResults(ns)
	if outputs != nil {
		data, err := json.Marshal(&wfv1.WorkflowTaskResult{NodeResult: wfv1.NodeResult{Outputs: outputs}})
		if err != nil {
			return err
		}
		if _, err := trs.Patch(ctx, nodeID, types.MergePatchType, data, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("executor: reporting outputs of %s/%s: %w", ns, nodeID, err)
		}
	}
	data := []byte(`{"metadata":{"labels":{"` + common.LabelKeyReportOutputsCompleted + `":"true"}}}`)
	if _, err := trs.Patch(ctx, nodeID, types.MergePatchType, data, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("executor: finalizing %s/%s: %w", ns, nodeID, err)
	}
	return nil
}
