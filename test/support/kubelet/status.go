package kubelet

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/argoproj/argo-workflows/v3/workflow/common"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The pod statuses the kubelet writes, as captured from a real one
// (containerd): conditions, IPs, image IDs and container IDs included, so
// that what the controller, the EventSource and the remediator read from
// a played pod is what they read in a cluster.

// Initializing: init runs, the others wait for it (phase Pending).
func Initializing(p *corev1.Pod, now time.Time) {
	p.Status = corev1.PodStatus{
		Phase: corev1.PodPending, HostIP: "10.0.3.17", HostIPs: []corev1.HostIP{{IP: "10.0.3.17"}},
		PodIP: "10.244.1.23", PodIPs: []corev1.PodIP{{IP: "10.244.1.23"}}, StartTime: ptr.To(metav1.NewTime(now)),
		QOSClass: p.Status.QOSClass,
		Conditions: []corev1.PodCondition{
			condition(corev1.PodReadyToStartContainers, true, "", now),
			condition(corev1.PodInitialized, false, "ContainersNotInitialized", now),
			condition(corev1.PodReady, false, "ContainersNotReady", now),
			condition(corev1.ContainersReady, false, "ContainersNotReady", now),
			condition(corev1.PodScheduled, true, "", now),
		},
	}
	for _, c := range p.Spec.InitContainers {
		p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, containerStatus(p, c,
			corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now)}}))
	}
	for _, c := range p.Spec.Containers {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, containerStatus(p, c,
			corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}))
	}
}

// Running: init completed, every container running and ready.
func Running(p *corev1.Pod, now time.Time) {
	Initializing(p, now.Add(-2*time.Second))
	for i := range p.Status.InitContainerStatuses {
		s := &p.Status.InitContainerStatuses[i]
		s.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", ContainerID: s.ContainerID,
			StartedAt: metav1.NewTime(now.Add(-2 * time.Second)), FinishedAt: metav1.NewTime(now.Add(-time.Second)),
		}}
		s.Ready, s.Started = false, ptr.To(false)
	}
	for i := range p.Status.ContainerStatuses {
		s := &p.Status.ContainerStatuses[i]
		s.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now)}}
		s.Ready, s.Started = true, ptr.To(true)
	}
	p.Status.Phase = corev1.PodRunning
	for i := range p.Status.Conditions {
		p.Status.Conditions[i] = condition(p.Status.Conditions[i].Type, true, "", now)
	}
}

// Terminated ends one container (init or regular) and updates the
// conditions and the phase as the kubelet does.
func Terminated(name string, exitCode int32, reason string) func(*corev1.Pod, time.Time) {
	return func(p *corev1.Pod, now time.Time) {
		s := findStatus(p, name)
		started := metav1.NewTime(now.Add(-time.Minute))
		if s.State.Running != nil {
			started = s.State.Running.StartedAt
		}
		s.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: exitCode, Reason: reason, ContainerID: s.ContainerID, StartedAt: started, FinishedAt: metav1.NewTime(now),
		}}
		s.Ready, s.Started = false, ptr.To(false)
		setCondition(p, corev1.PodReady, false, "ContainersNotReady", now)
		setCondition(p, corev1.ContainersReady, false, "ContainersNotReady", now)
		if name == common.InitContainerName && exitCode != 0 {
			p.Status.Phase = corev1.PodFailed // restartPolicy Never: the pod fails
			return
		}
		p.Status.Phase = PhaseOf(p)
	}
}

// PhaseOf is the phase the kubelet reports for p's container states
// (restartPolicy Never).
func PhaseOf(p *corev1.Pod) corev1.PodPhase {
	failed := false
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Terminated == nil {
			return corev1.PodRunning
		}
		failed = failed || s.State.Terminated.ExitCode != 0
	}
	if failed {
		return corev1.PodFailed
	}
	return corev1.PodSucceeded
}

func findStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	panic("no status for container " + name)
}

func containerStatus(p *corev1.Pod, c corev1.Container, state corev1.ContainerState) corev1.ContainerStatus {
	id := sha256.Sum256([]byte(p.Namespace + "/" + p.Name + "/" + c.Name))
	digest := sha256.Sum256([]byte(c.Image))
	image := c.Image // as containerd reports it: fully qualified
	switch first := strings.Split(image, "/")[0]; {
	case !strings.Contains(image, "/"):
		image = "docker.io/library/" + image
	case !strings.ContainsAny(first, ".:"):
		image = "docker.io/" + image
	}
	if i := strings.LastIndex(image, ":"); i < strings.LastIndex(image, "/") || i < 0 {
		image += ":latest" // untagged, as containerd reports it
	}
	repo := image[:strings.LastIndex(image, ":")]
	return corev1.ContainerStatus{
		Name: c.Name, State: state, Image: image, ImageID: repo + "@sha256:" + hex.EncodeToString(digest[:]),
		ContainerID: "containerd://" + hex.EncodeToString(id[:]), Started: ptr.To(false),
	}
}

func condition(typ corev1.PodConditionType, ok bool, reason string, now time.Time) corev1.PodCondition {
	c := corev1.PodCondition{Type: typ, Status: corev1.ConditionFalse, Reason: reason, LastTransitionTime: metav1.NewTime(now)}
	if ok {
		c.Status, c.Reason = corev1.ConditionTrue, ""
	}
	return c
}

func setCondition(p *corev1.Pod, typ corev1.PodConditionType, ok bool, reason string, now time.Time) {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == typ {
			p.Status.Conditions[i] = condition(typ, ok, reason, now)
		}
	}
}
