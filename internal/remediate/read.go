package remediate

import (
	"context"
	"fmt"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/wfstatus"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
)

// snapshot is one read of the objects the decision depends on. Each is read
// with a list narrowed to that one object: the read is served by the API
// server (not a cache) and its resourceVersion is where a watch resumes,
// whether or not the object exists.
type snapshot struct {
	wf    *wfstatus.Workflow // read lean: only the node asked for is ever decoded
	wfRV  string
	tr    *wfv1.WorkflowTaskResult
	trRV  string
	pod   *corev1.Pod // the node's pod, nil when gone
	podRV string
}

func byName(name string) metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()}
}

// podListOptions selects the node's pod by name when the trigger gave it,
// else the workflow's pods, among which podOfNode finds the node's.
func podListOptions(t Target) metav1.ListOptions {
	if t.PodName != "" {
		return byName(t.PodName)
	}
	return metav1.ListOptions{LabelSelector: labels.Set{LabelWorkflow: t.Workflow}.String()}
}

func (r *Remediator) readWorkflow(ctx context.Context, t Target) (*wfstatus.Workflow, string, error) {
	return r.workflows.Read(ctx, t.Namespace, t.Workflow)
}

func (r *Remediator) readTaskResult(ctx context.Context, t Target) (*wfv1.WorkflowTaskResult, string, error) {
	list, err := r.argo.ArgoprojV1alpha1().WorkflowTaskResults(t.Namespace).List(ctx, byName(t.NodeID))
	if err != nil {
		return nil, "", fmt.Errorf("reading workflowtaskresult %s/%s: %w", t.Namespace, t.NodeID, err)
	}
	for i := range list.Items {
		if list.Items[i].Name == t.NodeID {
			return &list.Items[i], list.ResourceVersion, nil
		}
	}
	return nil, list.ResourceVersion, nil
}

func (r *Remediator) readPod(ctx context.Context, t Target) (*corev1.Pod, string, error) {
	list, err := r.kube.CoreV1().Pods(t.Namespace).List(ctx, podListOptions(t))
	if err != nil {
		return nil, "", fmt.Errorf("reading the pod of node %s in %s: %w", t.NodeID, t.Namespace, err)
	}
	var found *corev1.Pod
	for i := range list.Items {
		p := &list.Items[i]
		if !podOfNode(p, t) {
			continue
		}
		// Prefer the triggering pod; otherwise the newest one.
		if found == nil || string(p.UID) == t.PodUID ||
			(string(found.UID) != t.PodUID && found.CreationTimestamp.Before(&p.CreationTimestamp)) {
			found = p
		}
	}
	return found, list.ResourceVersion, nil
}

// podOfNode tells whether p is a pod of the target node.
func podOfNode(p *corev1.Pod, t Target) bool {
	if t.PodName != "" {
		return p.Name == t.PodName
	}
	return p.Labels[LabelWorkflow] == t.Workflow && p.Annotations[AnnotationNodeID] == t.NodeID
}

// read takes a snapshot. It stops early when the workflow is gone: nothing
// else matters then.
func (r *Remediator) read(ctx context.Context, t Target) (snapshot, error) {
	var s snapshot
	var err error
	if s.wf, s.wfRV, err = r.readWorkflow(ctx, t); err != nil || s.wf == nil {
		return s, err
	}
	if s.tr, s.trRV, err = r.readTaskResult(ctx, t); err != nil {
		return s, err
	}
	s.pod, s.podRV, err = r.readPod(ctx, t)
	return s, err
}
