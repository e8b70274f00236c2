package kubelet

import (
	"context"
	"fmt"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// StandInForController does the one thing of Argo's controller a test
// without one needs to verify a remediation: once the node's task result is
// complete, it marks the status entry complete and ends the workflow Failed.
// It waits up to `within` for the task result, then retries the update (a
// conflict, an API server restarting) for up to a minute. The error says
// which of the two it gave up on, with the last API error seen.
func (k Kubelet) StandInForController(ctx context.Context, ns, workflow, nodeID string, within time.Duration) error {
	argo := k.Argo.ArgoprojV1alpha1()
	var last error
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, within, true, func(ctx context.Context) (bool, error) {
		tr, err := argo.WorkflowTaskResults(ns).Get(ctx, nodeID, metav1.GetOptions{})
		last = err
		return err == nil && tr.Labels[common.LabelKeyReportOutputsCompleted] == "true", nil
	})
	if err != nil {
		return fmt.Errorf("stand-in for the controller: task result %s/%s never completed within %s (last error: %s): %w", ns, nodeID, within, describe(last), err)
	}
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		wf, err := argo.Workflows(ns).Get(ctx, workflow, metav1.GetOptions{})
		if last = err; err != nil {
			return false, nil
		}
		wf.Status.MarkTaskResultComplete(nodeID)
		wf.Status.Phase = wfv1.WorkflowFailed
		wf.Status.FinishedAt = metav1.Now()
		if wf.Labels == nil {
			wf.Labels = map[string]string{}
		}
		wf.Labels[common.LabelKeyCompleted] = "true"
		_, last = argo.Workflows(ns).Update(ctx, wf, metav1.UpdateOptions{})
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("stand-in for the controller: ending workflow %s/%s (last error: %s): %w", ns, workflow, describe(last), err)
	}
	return nil
}

// describe is an API error's text for a message that wraps another error.
func describe(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}
