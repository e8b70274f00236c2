package remediate

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// waitForChange watches the workflow, the task result and the pod from the
// snapshot's resourceVersions and returns when one of them changes, when a
// watch ends (expiry, 410 Gone, a restarted API server: the caller reads
// again), after recheck when it is not zero, or when ctx ends. Pod events
// are fed to mem on the way, so the final state carried by a DELETE event
// (a wait container that did terminate) is not lost.
func (r *Remediator) waitForChange(ctx context.Context, t Target, s snapshot, recheck time.Duration, mem *podMemory) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the watches

	wfOpts := byName(t.Workflow)
	wfOpts.ResourceVersion, wfOpts.AllowWatchBookmarks = s.wfRV, true
	trOpts := byName(t.NodeID)
	trOpts.ResourceVersion, trOpts.AllowWatchBookmarks = s.trRV, true
	podOpts := podListOptions(t)
	podOpts.ResourceVersion, podOpts.AllowWatchBookmarks = s.podRV, true

	wfW, err := r.argo.ArgoprojV1alpha1().Workflows(t.Namespace).Watch(ctx, wfOpts)
	if err != nil {
		return fmt.Errorf("watching workflow %s/%s: %w", t.Namespace, t.Workflow, err)
	}
	defer wfW.Stop()
	trW, err := r.argo.ArgoprojV1alpha1().WorkflowTaskResults(t.Namespace).Watch(ctx, trOpts)
	if err != nil {
		return fmt.Errorf("watching workflowtaskresult %s/%s: %w", t.Namespace, t.NodeID, err)
	}
	defer trW.Stop()
	podW, err := r.kube.CoreV1().Pods(t.Namespace).Watch(ctx, podOpts)
	if err != nil {
		return fmt.Errorf("watching the pod of node %s in %s: %w", t.NodeID, t.Namespace, err)
	}
	defer podW.Stop()

	var timer <-chan time.Time
	if recheck > 0 {
		tm := r.clock.NewTimer(recheck)
		defer tm.Stop()
		timer = tm.C()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer:
			return nil
		case ev, ok := <-wfW.ResultChan():
			if !ok || relevant(ev, t.Workflow) {
				return nil
			}
		case ev, ok := <-trW.ResultChan():
			if !ok || relevant(ev, t.NodeID) {
				return nil
			}
		case ev, ok := <-podW.ResultChan():
			if !ok {
				return nil
			}
			if p, isPod := ev.Object.(*corev1.Pod); isPod && podOfNode(p, t) {
				mem.seen(p, r.clock.Now())
				return nil
			}
			if ev.Type == watch.Error {
				return nil
			}
		}
	}
}

// relevant tells whether a watch event should trigger a new read: a change
// of the named object, or a watch error. Bookmarks and other objects (fakes
// ignore field selectors) are not.
func relevant(ev watch.Event, name string) bool {
	switch ev.Type {
	case watch.Bookmark:
		return false
	case watch.Error:
		return true
	}
	m, ok := ev.Object.(metav1.Object)
	return ok && m.GetName() == name
}
