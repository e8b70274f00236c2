package resubmit

import (
	"fmt"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
)

// spec is the spec the workflow ran: its own, or, for a workflow made from
// a WorkflowTemplate (spec.workflowTemplateRef), the joined spec the
// controller stored in status.storedWorkflowTemplateSpec.
func spec(wf *wfv1.Workflow) *wfv1.WorkflowSpec {
	if wf.Spec.WorkflowTemplateRef != nil {
		return wf.Status.StoredWorkflowSpec
	}
	return &wf.Spec
}

// Patchable returns the container whose memory a resubmission raises for
// node, or nil and why not. It refuses what it cannot change without
// touching something else or without guessing:
//   - a template from a templateRef (another WorkflowTemplate or a
//     ClusterWorkflowTemplate, shared with other workflows);
//   - a workflow from a WorkflowTemplate whose stored spec is not there;
//   - containerSet, resource, suspend, http, plugin, steps and dag
//     templates (only container and script templates have one main);
//   - a template or workflow with a podSpecPatch (it may set the memory,
//     and would win over the container's resources).
//
// A container without a memory limit of its own (templateDefaults, a
// LimitRange) is refused by Decide: there is no limit to raise.
func Patchable(wf *wfv1.Workflow, node wfv1.NodeStatus) (*corev1.Container, string) {
	if node.TemplateRef != nil {
		kind := "WorkflowTemplate"
		if node.TemplateRef.ClusterScope {
			kind = "ClusterWorkflowTemplate"
		}
		return nil, fmt.Sprintf("template %s of %s %s: resubmitting with more memory would change that shared template", node.TemplateRef.Template, kind, node.TemplateRef.Name)
	}
	s := spec(wf)
	if s == nil {
		return nil, "the workflow runs a WorkflowTemplate whose spec is not stored in its status"
	}
	if s.PodSpecPatch != "" {
		return nil, "the workflow has a podSpecPatch, which may set the memory"
	}
	t := template(s, node.TemplateName)
	switch {
	case t == nil:
		return nil, fmt.Sprintf("template %q is not in the workflow's spec", node.TemplateName)
	case t.PodSpecPatch != "":
		return nil, fmt.Sprintf("template %s has a podSpecPatch, which may set the memory", t.Name)
	case t.ContainerSet != nil:
		return nil, fmt.Sprintf("template %s is a containerSet: which container ran out is not known", t.Name)
	case t.Container != nil:
		return t.Container, ""
	case t.Script != nil:
		return &t.Script.Container, ""
	}
	return nil, fmt.Sprintf("template %s is a %s template, not a container or script", t.Name, t.GetType())
}

// template is the named template of s; nil when there is none.
func template(s *wfv1.WorkflowSpec, name string) *wfv1.Template {
	for i := range s.Templates {
		if s.Templates[i].Name == name {
			return &s.Templates[i]
		}
	}
	return nil
}
