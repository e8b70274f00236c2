package resubmit

import (
	"strconv"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Formulate is the workflow that resubmits wf as d decided: Argo's own
// non-memoized resubmit (workflow/util.FormulateResubmitWorkflow of v3.7:
// the spec as it was, a terminated deadline unset, no shutdown, the labels
// less the creator's, phase, completion and archiving ones, the
// resubmitted-from-workflow label, the annotations, the owner references),
// named d.Name instead of generated, with the template's main container
// given d.NewLimit (and d.NewRequest) and the chain recorded. A workflow
// made from a WorkflowTemplate gets the spec the controller ran, inline, so
// that the template itself is not changed.
func Formulate(wf *wfv1.Workflow, d Decision) *wfv1.Workflow {
	n := &wfv1.Workflow{TypeMeta: wf.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: d.Name, Namespace: wf.Namespace, Labels: map[string]string{}, Annotations: map[string]string{},
		OwnerReferences: append([]metav1.OwnerReference(nil), wf.OwnerReferences...),
	}}
	n.Spec = *spec(wf).DeepCopy()
	if wf.Spec.WorkflowTemplateRef != nil {
		// The stored spec is the template's joined with the workflow's
		// own (arguments included); the ref would take the template's
		// memory again.
		n.Spec.WorkflowTemplateRef = nil
	}
	if n.Spec.ActiveDeadlineSeconds != nil && *n.Spec.ActiveDeadlineSeconds == 0 {
		n.Spec.ActiveDeadlineSeconds = nil // it was terminated
	}
	n.Spec.Shutdown = ""
	for k, v := range wf.Labels {
		switch k {
		case labelCreator, labelCreatorEmail, labelCreatorPreferredUsername, labelPhase, labelCompleted, labelArchivingStatus:
		case LabelHandled: // about the previous workflow's own end
		default:
			n.Labels[k] = v
		}
	}
	n.Labels[labelPrevious] = wf.Name
	for k, v := range wf.Annotations {
		switch k {
		case AnnotationResubmittedAs, AnnotationReason:
		default:
			n.Annotations[k] = v
		}
	}

	t := template(&n.Spec, d.Template)
	c := t.Container
	if c == nil {
		c = &t.Script.Container
	}
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	c.Resources.Limits[corev1.ResourceMemory] = d.NewLimit
	if d.NewRequest != nil {
		c.Resources.Requests[corev1.ResourceMemory] = *d.NewRequest
	}

	n.Labels[LabelChainRoot] = labelValue(d.Root)
	n.Labels[LabelChainAttempt] = strconv.Itoa(d.Attempt)
	n.Annotations[AnnotationChainRoot] = d.Root
	n.Annotations[AnnotationChainRootUID] = d.RootUID
	n.Annotations[AnnotationPrevious] = wf.Name
	n.Annotations[AnnotationPreviousUID] = string(wf.UID)
	n.Annotations[AnnotationNode] = d.Node
	n.Annotations[AnnotationTemplate] = d.Template
	n.Annotations[AnnotationMemory] = d.NewLimit.String()
	return n
}
