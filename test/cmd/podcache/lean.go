package main

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeIDAnnotation names the workflow node (and its WorkflowTaskResult).
const nodeIDAnnotation = "workflows.argoproj.io/node-id"

// leanPod is the informer transform of the lean watcher: of a pod it keeps
// what the Sensor's filters and the Job's parameters read
// (sensors/oom-remediation.yaml) and what an informer needs (name,
// namespace, UID, resourceVersion): the workflow label, the node-id
// annotation, the containers' names, and of every container status the
// name and the terminated state's reason and exit code. Anything else it is
// given (a tombstone) passes unchanged.
func leanPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			Labels:      pick(p.Labels, workflowLabel),
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
		if t := s.State.Terminated; t != nil {
			out[i].State.Terminated = &corev1.ContainerStateTerminated{Reason: t.Reason, ExitCode: t.ExitCode}
		}
	}
	return out
}
