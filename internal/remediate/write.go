package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/wfstatus"
	"github.com/argoproj/argo-workflows/v3/pkg/apis/workflow"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// transient tells which API errors are worth retrying in place: throttling
// and server-side hiccups. A conflict is not: it means "read again".
func transient(err error) bool {
	return apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err)
}

// fatal tells which API errors no retry can cure: the remediator is not
// allowed, or sent something invalid.
func fatal(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsBadRequest(err) ||
		apierrors.IsInvalid(err) || apierrors.IsMethodNotSupported(err)
}

// noAnswer tells whether a request failed without an answer from the API
// server (connection refused, reset or closed): it may have been applied.
func noAnswer(err error) bool {
	var status apierrors.APIStatus
	return err != nil && !errors.As(err, &status) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// stale tells whether a write failed because what was read has changed.
func stale(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsNotFound(err) || apierrors.IsAlreadyExists(err)
}

func (r *Remediator) annotations(t Target, action, reason string, now time.Time) map[string]string {
	return map[string]string{
		AnnotationAction:       action,
		AnnotationRemediatedAt: now.UTC().Format(time.RFC3339),
		AnnotationRemediatedBy: r.opts.Identity,
		AnnotationReason:       reason,
		AnnotationTrigger:      t.Trigger,
	}
}

// complete patches the task result's label to "true". The patch carries the
// resourceVersion that was read: if anything changed since, the API server
// answers Conflict and nothing is written.
func (r *Remediator) complete(ctx context.Context, tr *wfv1.WorkflowTaskResult, t Target, reason string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": tr.ResourceVersion,
		"labels":          map[string]string{LabelCompleted: "true"},
		"annotations":     r.annotations(t, "complete", reason, r.clock.Now()),
	}})
	if err != nil {
		return err
	}
	err = retry.OnError(retry.DefaultBackoff, transient, func() error {
		_, err := r.argo.ArgoprojV1alpha1().WorkflowTaskResults(tr.Namespace).
			Patch(ctx, tr.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("completing workflowtaskresult %s/%s: %w", tr.Namespace, tr.Name, err)
	}
	return nil
}

// create writes the task result the executor never wrote (legacy
// annotation path), complete, as the executor would have: same name,
// labels and ownerReference.
func (r *Remediator) create(ctx context.Context, wf *wfstatus.Workflow, t Target, reason string) error {
	labels := map[string]string{LabelWorkflow: wf.Name, LabelCompleted: "true"}
	if id, ok := wf.Labels[LabelInstanceID]; ok {
		labels[LabelInstanceID] = id
	}
	tr := &wfv1.WorkflowTaskResult{
		ObjectMeta: metav1.ObjectMeta{
			Name:        t.NodeID,
			Namespace:   wf.Namespace,
			Labels:      labels,
			Annotations: r.annotations(t, "create", reason, r.clock.Now()),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: workflow.APIVersion,
				Kind:       workflow.WorkflowKind,
				Name:       wf.Name,
				UID:        wf.UID,
			}},
		},
	}
	err := retry.OnError(retry.DefaultBackoff, transient, func() error {
		_, err := r.argo.ArgoprojV1alpha1().WorkflowTaskResults(wf.Namespace).Create(ctx, tr, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("creating workflowtaskresult %s/%s: %w", wf.Namespace, t.NodeID, err)
	}
	return nil
}

// nudge annotates the Workflow so that Argo v3.6+ reconciles it at once
// instead of after its fixed requeue delay.
func (r *Remediator) nudge(ctx context.Context, t Target) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{AnnotationNudgedAt: r.clock.Now().UTC().Format(time.RFC3339Nano)},
	}})
	if err != nil {
		return err
	}
	err = retry.OnError(retry.DefaultBackoff, transient, func() error {
		_, err := r.argo.ArgoprojV1alpha1().Workflows(t.Namespace).
			Patch(ctx, t.Workflow, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("nudging workflow %s/%s: %w", t.Namespace, t.Workflow, err)
	}
	return nil
}
