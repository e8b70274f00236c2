package resubmit

import (
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestFormulateIsArgosResubmitWithMoreMemory checks the semantics taken
// from Argo's FormulateResubmitWorkflow (non-memoized) and what is added.
func TestFormulateIsArgosResubmitWithMoreMemory(t *testing.T) {
	wf := failedWorkflow()
	wf.Spec.ActiveDeadlineSeconds, wf.Spec.Shutdown = ptr.To[int64](0), wfv1.ShutdownStrategyTerminate
	wf.OwnerReferences = []metav1.OwnerReference{{Kind: "CronWorkflow", Name: "etl"}}
	wf.Labels[labelArchivingStatus], wf.Labels[labelCreatorEmail] = "Pending", "a@example.com"
	d := Decide(Input{Workflow: wf, OptedIn: true, Rescued: []string{"etl-1"}, Limits: limits})
	n := Formulate(wf, d)

	if n.Name != "etl-oom-1" || n.GenerateName != "" || n.Namespace != "team-a" || n.Kind != "Workflow" {
		t.Errorf("meta %s %s %s %s", n.Name, n.GenerateName, n.Namespace, n.Kind)
	}
	if n.Spec.ActiveDeadlineSeconds != nil || n.Spec.Shutdown != "" {
		t.Errorf("deadline %v, shutdown %q: a terminated workflow's are unset", n.Spec.ActiveDeadlineSeconds, n.Spec.Shutdown)
	}
	for _, k := range []string{labelCreator, labelCreatorEmail, labelPhase, labelCompleted, labelArchivingStatus} {
		if _, ok := n.Labels[k]; ok {
			t.Errorf("label %s carried over", k)
		}
	}
	for k, want := range map[string]string{"team": "data", KeyOptIn: "true", labelPrevious: "etl", LabelChainRoot: "etl", LabelChainAttempt: "1"} {
		if n.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, n.Labels[k], want)
		}
	}
	for k, want := range map[string]string{"note": "nightly", AnnotationChainRoot: "etl", AnnotationChainRootUID: "uid-etl",
		AnnotationPrevious: "etl", AnnotationPreviousUID: "uid-etl", AnnotationNode: "etl-1", AnnotationTemplate: "load", AnnotationMemory: "384Mi"} {
		if n.Annotations[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, n.Annotations[k], want)
		}
	}
	if len(n.OwnerReferences) != 1 || n.OwnerReferences[0].Name != "etl" {
		t.Errorf("owners %v", n.OwnerReferences)
	}
	r := n.Spec.Templates[1].Container.Resources
	if r.Limits.Memory().String() != "384Mi" || r.Requests.Memory().String() != "192Mi" {
		t.Errorf("resources %v", r)
	}
	// The ended workflow is not changed.
	if wf.Spec.Templates[1].Container.Resources.Limits.Memory().String() != "256Mi" || wf.Spec.Shutdown == "" {
		t.Error("Formulate changed the workflow it copies")
	}
	if n.Status.Phase != "" || len(n.Status.Nodes) != 0 {
		t.Error("the new workflow has a status")
	}
}

func TestFormulateInlinesTheStoredSpecOfAWorkflowTemplate(t *testing.T) {
	wf := failedWorkflow()
	stored := wf.Spec
	wf.Spec, wf.Status.StoredWorkflowSpec = wfv1.WorkflowSpec{WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: "etl"}}, &stored
	d := Decide(Input{Workflow: wf, OptedIn: true, Rescued: []string{"etl-1"}, Limits: limits})
	wf.Labels[LabelHandled] = "x" // not carried over, whatever its value
	n := Formulate(wf, d)
	if n.Spec.WorkflowTemplateRef != nil || len(n.Spec.Templates) != 3 || n.Spec.Templates[1].Container.Resources.Limits.Memory().String() != "384Mi" {
		t.Errorf("spec %+v", n.Spec)
	}
	if _, ok := n.Labels[LabelHandled]; ok {
		t.Error("the handled label is carried over")
	}
	if stored.Templates[1].Container.Resources.Limits[corev1.ResourceMemory] != wf.Status.StoredWorkflowSpec.Templates[1].Container.Resources.Limits[corev1.ResourceMemory] {
		t.Error("the stored spec was changed")
	}
}
