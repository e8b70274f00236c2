package resubmit

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Kinds of Report: the notification's outcome.
const (
	KindResubmitted = "resubmitted"
	KindStopped     = "resubmit-stopped"
	KindEnded       = "resubmit-ended"
)

// Report is one thing done, to notify.
type Report struct {
	Kind string
	// Workflow is the workflow that ended; Decision what was decided for it.
	Workflow *wfv1.Workflow
	Decision Decision
	// Created: this call created Decision.Name (false: an earlier one did).
	Created bool
}

// Resubmitter decides for ended workflows and acts.
type Resubmitter struct {
	Argo   versioned.Interface
	Kube   kubernetes.Interface
	Limits Limits
	Log    *slog.Logger
}

// Handle decides for workflow ns/name and acts. known are node IDs the
// caller saw rescued on it (from the remediator's Events, which expire).
// done is false while the workflow has not ended: ask again later.
func (r *Resubmitter) Handle(ctx context.Context, ns, name string, known []string) (reports []Report, done bool, err error) {
	wf, err := r.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading workflow %s/%s: %w", ns, name, err)
	}
	if !wf.Status.Phase.Completed() {
		if !IsMember(wf) && !OptedIn(wf.Labels, wf.Annotations) && wf.Spec.WorkflowTemplateRef == nil {
			// Not ours however it ends (only a WorkflowTemplate could opt
			// it in): stop following it now instead of reading it at every
			// check until it ends.
			r.Log.Info("resubmit: not opted in", "namespace", ns, "workflow", name, "phase", wf.Status.Phase)
			return nil, true, nil
		}
		return nil, false, nil
	}
	if wf.Labels[LabelHandled] != "" {
		return nil, true, nil
	}
	member := IsMember(wf)
	opted := OptedIn(wf.Labels, wf.Annotations)
	if !opted {
		if opted, err = r.templateOptedIn(ctx, wf); err != nil {
			return nil, false, err
		}
	}
	if !opted && !member {
		// Not ours: nothing is written, not even a mark.
		r.Log.Info("resubmit: not opted in", "namespace", ns, "workflow", name, "phase", wf.Status.Phase)
		return nil, true, nil
	}
	rescued, err := r.rescued(ctx, wf)
	if err != nil {
		return nil, false, err
	}
	d := Decide(Input{Workflow: wf, OptedIn: opted || member, Rescued: append(rescued, known...), Limits: r.Limits})
	r.Log.Info("resubmit: decided", "namespace", ns, "workflow", name, "phase", wf.Status.Phase, "action", d.Action,
		"reason", d.Reason, "attempt", d.Attempt, "next", d.Name, "memory", d.NewLimit.String())
	handled := ""
	switch d.Action {
	case Resubmit:
		created, err := r.create(ctx, wf, d)
		if err != nil {
			return nil, false, err
		}
		reports, handled = append(reports, Report{Kind: KindResubmitted, Workflow: wf, Decision: d, Created: created}), "resubmitted"
	case Stop:
		reports, handled = append(reports, Report{Kind: KindStopped, Workflow: wf, Decision: d}), "stopped"
	case None:
		if !member {
			return nil, true, nil
		}
		reports, handled = append(reports, Report{Kind: KindEnded, Workflow: wf, Decision: d}), "ended"
	}
	if err := r.mark(ctx, wf, handled, d); err != nil {
		return nil, false, err
	}
	return reports, true, nil
}

// create submits the decided workflow; one that exists already is this
// resubmission made by an earlier call (a retry, another replica) when it
// names wf as its previous one, else an error.
func (r *Resubmitter) create(ctx context.Context, wf *wfv1.Workflow, d Decision) (bool, error) {
	wfs := r.Argo.ArgoprojV1alpha1().Workflows(wf.Namespace)
	_, err := wfs.Create(ctx, Formulate(wf, d), metav1.CreateOptions{})
	if err == nil {
		r.Log.Info("resubmit: created", "namespace", wf.Namespace, "workflow", d.Name, "previous", wf.Name, "memory", d.NewLimit.String())
		return true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return false, fmt.Errorf("resubmitting workflow %s/%s as %s: %w", wf.Namespace, wf.Name, d.Name, err)
	}
	got, err := wfs.Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("reading workflow %s/%s, which exists already: %w", wf.Namespace, d.Name, err)
	}
	if got.Annotations[AnnotationPreviousUID] != string(wf.UID) {
		return false, fmt.Errorf("workflow %s/%s exists and is not the resubmission of %s (uid %s): not resubmitting", wf.Namespace, d.Name, wf.Name, wf.UID)
	}
	r.Log.Info("resubmit: already created by an earlier run", "namespace", wf.Namespace, "workflow", d.Name, "previous", wf.Name)
	return false, nil
}

// mark records the decision on the ended workflow, so that it is taken once.
func (r *Resubmitter) mark(ctx context.Context, wf *wfv1.Workflow, handled string, d Decision) error {
	annotations := map[string]string{AnnotationReason: d.Reason}
	if d.Action == Resubmit {
		annotations[AnnotationResubmittedAs] = d.Name
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels": map[string]string{LabelHandled: handled}, "annotations": annotations,
	}})
	if err != nil {
		return err
	}
	if _, err := r.Argo.ArgoprojV1alpha1().Workflows(wf.Namespace).Patch(ctx, wf.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("recording the resubmit decision on workflow %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	return nil
}

// templateOptedIn reads the opt-in of the WorkflowTemplate the workflow was
// made from (namespaced templates only).
func (r *Resubmitter) templateOptedIn(ctx context.Context, wf *wfv1.Workflow) (bool, error) {
	ref := wf.Spec.WorkflowTemplateRef
	if ref == nil || ref.ClusterScope || ref.Name == "" {
		return false, nil
	}
	t, err := r.Argo.ArgoprojV1alpha1().WorkflowTemplates(wf.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading workflowtemplate %s/%s of workflow %s: %w", wf.Namespace, ref.Name, wf.Name, err)
	}
	return OptedIn(t.Labels, t.Annotations), nil
}

// rescuedReasons are the reasons of the remediator's Events that record a
// rescue (kubeevent: TaskResultComplete, TaskResultCreate; a re-run that
// found it done: RemediatedEarlier).
var rescuedReasons = []string{"TaskResultComplete", "TaskResultCreate", remediate.ReasonRemediatedEarlier}

// rescued lists the nodes the remediator's Events on wf say it rescued.
func (r *Resubmitter) rescued(ctx context.Context, wf *wfv1.Workflow) ([]string, error) {
	sel := fields.AndSelectors(fields.OneTermEqualSelector("source", remediate.Component),
		fields.OneTermEqualSelector("involvedObject.name", wf.Name)).String()
	list, err := r.Kube.CoreV1().Events(wf.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing the remediator's events on workflow %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	var nodes []string
	for _, e := range list.Items {
		if rescueOf(&e, wf) {
			nodes = append(nodes, e.Annotations[remediate.AnnotationEventNode])
		}
	}
	return nodes, nil
}

// rescueOf tells whether e records a rescue of a node of wf.
func rescueOf(e *corev1.Event, wf *wfv1.Workflow) bool {
	return slices.Contains(rescuedReasons, e.Reason) && e.Annotations[remediate.AnnotationEventNode] != "" && e.InvolvedObject.Name == wf.Name &&
		(e.InvolvedObject.UID == "" || e.InvolvedObject.UID == wf.UID)
}
