package manifests

import (
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// pod is a pod template of the manifests: the pod-level security context and
// the containers that run the remediator.
type pod struct {
	// owner names where the pod template is, for messages.
	owner string
	// podSecurity is the pod-level security context (nil if unset).
	podSecurity *corev1.PodSecurityContext
	// serviceAccount is the pod's ServiceAccount.
	serviceAccount string
	containers     []corev1.Container
}

// pods returns the pod templates in objs that this repository's manifests
// own: the sweep CronJob, the Deployments (the pod watcher, the watch) and
// the (Cluster)WorkflowTemplate. The Sensor's Job belongs to sensors/ and is
// checked there.
func pods(t testing.TB, objs []*unstructured.Unstructured) []pod {
	t.Helper()
	var out []pod
	for _, o := range objs {
		owner := o.GetKind() + "/" + o.GetName()
		switch o.GetKind() {
		case "CronJob":
			var cj batchv1.CronJob
			convert(t, o, &cj)
			spec := cj.Spec.JobTemplate.Spec.Template.Spec
			out = append(out, pod{owner: owner, podSecurity: spec.SecurityContext, serviceAccount: spec.ServiceAccountName, containers: spec.Containers})
		case "Deployment":
			var d appsv1.Deployment
			convert(t, o, &d)
			spec := d.Spec.Template.Spec
			out = append(out, pod{owner: owner, podSecurity: spec.SecurityContext, serviceAccount: spec.ServiceAccountName, containers: spec.Containers})
		case "WorkflowTemplate":
			var wt wfv1.WorkflowTemplate
			convert(t, o, &wt)
			out = append(out, workflowPods(owner, wt.Spec)...)
		case "ClusterWorkflowTemplate":
			var cwt wfv1.ClusterWorkflowTemplate
			convert(t, o, &cwt)
			out = append(out, workflowPods(owner, cwt.Spec)...)
		}
	}
	return out
}

// workflowPods returns one pod per container template of spec.
func workflowPods(owner string, spec wfv1.WorkflowSpec) []pod {
	var out []pod
	for _, tmpl := range spec.Templates {
		if tmpl.Container == nil {
			continue
		}
		sec := spec.SecurityContext
		if tmpl.SecurityContext != nil {
			sec = tmpl.SecurityContext
		}
		sa := spec.ServiceAccountName
		if tmpl.ServiceAccountName != "" {
			sa = tmpl.ServiceAccountName
		}
		out = append(out, pod{owner: owner + " template " + tmpl.Name, podSecurity: sec, serviceAccount: sa, containers: []corev1.Container{*tmpl.Container}})
	}
	return out
}

// effective is a container's security settings after the pod-level defaults
// apply, as the kubelet computes them.
type effective struct {
	runAsNonRoot             bool
	runAsUser                int64
	readOnlyRootFilesystem   bool
	allowPrivilegeEscalation *bool
	dropsAll                 bool
	seccomp                  corev1.SeccompProfileType
}

func effectiveSecurity(p pod, c corev1.Container) effective {
	var e effective
	if ps := p.podSecurity; ps != nil {
		e.runAsNonRoot = ps.RunAsNonRoot != nil && *ps.RunAsNonRoot
		if ps.RunAsUser != nil {
			e.runAsUser = *ps.RunAsUser
		}
		if ps.SeccompProfile != nil {
			e.seccomp = ps.SeccompProfile.Type
		}
	}
	cs := c.SecurityContext
	if cs == nil {
		return e
	}
	if cs.RunAsNonRoot != nil {
		e.runAsNonRoot = *cs.RunAsNonRoot
	}
	if cs.RunAsUser != nil {
		e.runAsUser = *cs.RunAsUser
	}
	if cs.SeccompProfile != nil {
		e.seccomp = cs.SeccompProfile.Type
	}
	e.readOnlyRootFilesystem = cs.ReadOnlyRootFilesystem != nil && *cs.ReadOnlyRootFilesystem
	e.allowPrivilegeEscalation = cs.AllowPrivilegeEscalation
	if cs.Capabilities != nil {
		for _, d := range cs.Capabilities.Drop {
			if d == "ALL" {
				e.dropsAll = true
			}
		}
	}
	return e
}
