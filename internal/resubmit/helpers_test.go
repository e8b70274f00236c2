package resubmit

import (
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const oomMessage = "OOMKilled (exit code 137)"

// failedWorkflow is etl, opted in by label, ended Failed: its step "load"
// (node etl-1, template "load", main at 256Mi limit and 128Mi request) was
// OOMKilled; a sibling step succeeded; the steps node failed with it.
func failedWorkflow() *wfv1.Workflow {
	return &wfv1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{Name: "etl", Namespace: "team-a", UID: "uid-etl",
			Labels: map[string]string{KeyOptIn: "true", labelCompleted: "true", labelPhase: "Failed",
				labelCreator: "alice", "team": "data"},
			Annotations: map[string]string{"note": "nightly"}},
		Spec: wfv1.WorkflowSpec{Entrypoint: "main", Templates: []wfv1.Template{
			{Name: "main", Steps: []wfv1.ParallelSteps{{Steps: []wfv1.WorkflowStep{{Name: "load", Template: "load"}, {Name: "ok", Template: "ok"}}}}},
			{Name: "load", Container: &corev1.Container{Image: "busybox", Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}}}},
			{Name: "ok", Container: &corev1.Container{Image: "busybox"}},
		}},
		Status: wfv1.WorkflowStatus{Phase: wfv1.WorkflowFailed, Nodes: wfv1.Nodes{
			"etl":   {ID: "etl", Name: "etl", Type: wfv1.NodeTypeSteps, Phase: wfv1.NodeFailed, TemplateName: "main"},
			"etl-1": {ID: "etl-1", Name: "etl[0].load", DisplayName: "load", Type: wfv1.NodeTypePod, Phase: wfv1.NodeFailed, TemplateName: "load", Message: oomMessage},
			"etl-2": {ID: "etl-2", Name: "etl[0].ok", DisplayName: "ok", Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded, TemplateName: "ok"},
		}},
	}
}

var limits = Limits{MaxMemory: resource.MustParse("1Gi"), MaxAttempts: 3}
