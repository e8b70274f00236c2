package podwatch

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The workflow label (the informer's selector) and the node-id annotation,
// which names the node and its WorkflowTaskResult.
const (
	WorkflowLabel    = "workflows.argoproj.io/workflow"
	nodeIDAnnotation = "workflows.argoproj.io/node-id"
)

// Lean is the informer's transform: of a pod it keeps what the Sensor's
// filters and the Job's parameters read (sensors/oom-remediation.yaml) and
// what an informer needs: name, namespace, UID, resourceVersion, the
// workflow label, the node-id annotation, the containers' names, the phase,
// and of every container status the name, whether it runs (and since
// when), and the terminated state's reason, exit code and finish time.
// Anything else (a tombstone) passes unchanged.
func Lean(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			Labels:      pick(p.Labels, WorkflowLabel),
			Annotations: pick(p.Annotations, nodeIDAnnotation),
		},
		Status: corev1.PodStatus{
			Phase:                 p.Status.Phase,
			InitContainerStatuses: leanStatuses(p.Status.InitContainerStatuses),
			ContainerStatuses:     leanStatuses(p.Status.ContainerStatuses),
		},
	}
	for _, c := range p.Spec.Containers {
		out.Spec.Containers = append(out.Spec.Containers, corev1.Container{Name: c.Name})
	}
	return out, nil
}

// Changed tells whether an UPDATE from old to cur (both [Lean]) changes
// anything the Sensor reads; one that does not cannot fire it. The
// resourceVersion always changes and is not read.
func Changed(old, cur *corev1.Pod) bool {
	a, b := *old, *cur
	a.ResourceVersion, b.ResourceVersion = "", ""
	return !reflect.DeepEqual(a, b)
}

func pick(m map[string]string, key string) map[string]string {
	v, ok := m[key]
	if !ok {
		return nil
	}
	return map[string]string{key: v}
}

func leanStatuses(in []corev1.ContainerStatus) []corev1.ContainerStatus {
	if in == nil {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(in))
	for i, s := range in {
		out[i].Name = s.Name
		if r := s.State.Running; r != nil {
			out[i].State.Running = &corev1.ContainerStateRunning{StartedAt: r.StartedAt}
		}
		if t := s.State.Terminated; t != nil {
			out[i].State.Terminated = &corev1.ContainerStateTerminated{Reason: t.Reason, ExitCode: t.ExitCode, FinishedAt: t.FinishedAt}
		}
	}
	return out
}
