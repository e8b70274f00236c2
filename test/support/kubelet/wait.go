package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/argoproj/argo-workflows/v3/workflow/common"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// WaitExit reports the wait container terminated with code, after
// OOMKill(..., WaitKeepsRunning): the executor finished its work. With every
// container then terminated, the pod phase becomes Failed if any exited
// non-zero, else Succeeded.
func (k Kubelet) WaitExit(ctx context.Context, ns, name string, code int32) (*corev1.Pod, error) {
	return k.updateStatus(ctx, ns, name, func(p *corev1.Pod) {
		reason := "Completed"
		if code != 0 {
			reason = "Error"
		}
		Terminated(common.WaitContainerName, code, reason)(p, time.Now())
	})
}

// AnnotationReportOutputsCompleted is the pod annotation of the executor's
// legacy path. Argo v3.5.x reads it; v3.6 dropped it (and its constant).
const AnnotationReportOutputsCompleted = "workflows.argoproj.io/report-outputs-completed"

// AnnotateOutputsCompleted sets the pod annotation
// workflows.argoproj.io/report-outputs-completed to value with a merge
// patch, as the executor's legacy path does when RBAC forbids
// WorkflowTaskResults (WorkflowExecutor.AddAnnotation, called from
// InitializeOutput with "false" and FinalizeOutput with "true").
func (k Kubelet) AnnotateOutputsCompleted(ctx context.Context, ns, name string, value bool) error {
	data, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{AnnotationReportOutputsCompleted: fmt.Sprint(value)},
	}})
	if err != nil {
		return err
	}
	if _, err := k.Kube.CoreV1().Pods(ns).Patch(ctx, name, types.MergePatchType, data, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("executor: annotating pod %s/%s: %w", ns, name, err)
	}
	return nil
}
