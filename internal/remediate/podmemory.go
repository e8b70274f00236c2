package remediate

import (
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	corev1 "k8s.io/api/core/v1"
)

// podMemory remembers what was seen of the node's pod across reads and
// watch events. What it proves is permanent: a workflow pod never restarts
// its containers, so a wait container once seen terminated stays so, even
// after the pod object is gone.
type podMemory struct {
	uid            string // the pod the run is about; set from the trigger or the first sighting
	waitTerminated bool
	lastSeenAlive  time.Time // last time the pod was seen with wait not terminated
	firstSeenGone  time.Time
	present        bool
	replaced       bool
	containers     []Container
	hostNode       string // spec.nodeName of the pod
}

// seen records a sighting of the node's pod (from a read or a watch event,
// including the final state carried by a DELETE event).
func (m *podMemory) seen(p *corev1.Pod, now time.Time) {
	if m.uid == "" {
		m.uid = string(p.UID)
	}
	if string(p.UID) != m.uid {
		m.replaced = true
		return
	}
	m.replaced = false
	m.containers = containersOf(p)
	if p.Spec.NodeName != "" {
		m.hostNode = p.Spec.NodeName
	}
	if waitTerminated(p) {
		m.waitTerminated = true
	} else {
		m.lastSeenAlive = now
	}
}

// observe records a read: the pod, or nil when there is none.
func (m *podMemory) observe(p *corev1.Pod, now time.Time) {
	m.present = p != nil
	if p != nil {
		m.seen(p, now)
		return
	}
	m.replaced = false
	if m.firstSeenGone.IsZero() {
		m.firstSeenGone = now
	}
}

// state gives the decision's view of the pod, and how long ago its wait
// container was last possibly alive. nodeFinished bounds that from below:
// the controller marks a node finished only once it saw the pod end or
// vanish.
func (m *podMemory) state(nodeFinished, now time.Time) (decide.Pod, time.Duration) {
	switch {
	case m.replaced:
		return decide.PodReplaced, 0
	case m.waitTerminated:
		return decide.PodWaitTerminated, 0
	case m.present:
		return decide.PodWaitRunning, 0
	}
	alive := m.lastSeenAlive
	// A node's finish time is stored with second precision: round it up,
	// never down, so the grace is never cut short.
	if !nodeFinished.IsZero() {
		nodeFinished = nodeFinished.Truncate(time.Second).Add(time.Second)
	}
	if nodeFinished.After(alive) {
		alive = nodeFinished
	}
	if alive.IsZero() {
		alive = m.firstSeenGone
	}
	return decide.PodGone, now.Sub(alive)
}

// waitTerminated tells whether the pod's wait container can no longer run.
func waitTerminated(p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return true // every container has terminated
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == WaitContainerName {
			return cs.State.Terminated != nil
		}
	}
	return false
}

func containersOf(p *corev1.Pod) []Container {
	limits, requests := map[string]string{}, map[string]string{}
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			limits[c.Name] = q.String()
		}
		if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
			requests[c.Name] = q.String()
		}
	}
	var out []Container
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		c := Container{Name: cs.Name, MemoryLimit: limits[cs.Name], MemoryRequest: requests[cs.Name]}
		if term := cs.State.Terminated; term != nil {
			code := term.ExitCode
			c.ExitCode, c.Reason = &code, term.Reason
		}
		out = append(out, c)
	}
	return out
}
