package remediate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned/scheme"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
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

	wfW, err := r.watchWorkflow(ctx, t.Namespace, wfOpts)
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

// watchWorkflow watches workflows without decoding them: an event tells
// only that the workflow changed (the next read decodes what is needed,
// lean), so each event's object is reduced to its name and
// resourceVersion. A typed watch would decode every event into a whole
// wfv1.Workflow, all its nodes included. Fake clientsets have no REST
// client: their typed watch is used as is.
func (r *Remediator) watchWorkflow(ctx context.Context, namespace string, opts metav1.ListOptions) (watch.Interface, error) {
	c, ok := r.argo.ArgoprojV1alpha1().RESTClient().(*rest.RESTClient)
	if !ok || c == nil {
		return r.argo.ArgoprojV1alpha1().Workflows(namespace).Watch(ctx, opts)
	}
	opts.Watch = true
	body, err := c.Get().Namespace(namespace).Resource("workflows").
		VersionedParams(&opts, scheme.ParameterCodec).Stream(ctx)
	if err != nil {
		return nil, err
	}
	return watch.NewStreamWatcher(&leanEvents{body: body, dec: json.NewDecoder(body)},
		apierrors.NewClientErrorReporter(http.StatusInternalServerError, "GET", "ClientWatchDecoding")), nil
}

// leanEvents decodes a JSON watch stream keeping of each object only what
// relevant and the caller look at.
type leanEvents struct {
	body io.ReadCloser
	dec  *json.Decoder
}

func (l *leanEvents) Decode() (watch.EventType, runtime.Object, error) {
	var ev struct {
		Type   watch.EventType `json:"type"`
		Object struct {
			Metadata struct {
				Name            string `json:"name"`
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
			// An ERROR event's object is a Status.
			Message string `json:"message"`
			Reason  string `json:"reason"`
			Code    int32  `json:"code"`
		} `json:"object"`
	}
	if err := l.dec.Decode(&ev); err != nil {
		return "", nil, err
	}
	o := ev.Object
	if ev.Type == watch.Error {
		return ev.Type, &metav1.Status{Status: metav1.StatusFailure, Message: o.Message,
			Reason: metav1.StatusReason(o.Reason), Code: o.Code}, nil
	}
	return ev.Type, &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: o.Metadata.Name, ResourceVersion: o.Metadata.ResourceVersion}}, nil
}

func (l *leanEvents) Close() { _ = l.body.Close() }
