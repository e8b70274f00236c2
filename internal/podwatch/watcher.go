package podwatch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Event is one change of a workflow pod, in the shape of argo-events'
// resource event source (the fields its Sensor reads).
type Event struct {
	Type    string      `json:"type"` // UPDATE or DELETE
	Body    *corev1.Pod `json:"body"`
	OldBody *corev1.Pod `json:"oldBody"` // UPDATE only
}

// Outcomes of a pod change, the label of the events counter.
const (
	OutcomeSent      = "sent"
	OutcomeUnchanged = "unchanged" // an UPDATE of nothing the Sensor reads
	OutcomeNoStream  = "no-stream" // no event source connected: dropped
)

// Watcher watches the workflow pods of Namespace (empty: all) through a
// lean informer and publishes their changes to Hub.
type Watcher struct {
	Kube      kubernetes.Interface
	Namespace string
	Hub       *Hub
	Log       *slog.Logger
	// Counted is called once per pod change with its type and outcome
	// (may be nil).
	Counted func(typ, outcome string)

	store cache.Store
}

// listPage is how many pods one list request returns. The informer's
// initial list is paged and each page made lean before the next is read, so
// at most one page of full pods is held at once (a single list of 10,000
// live pods decoded in full peaks at ~300 MiB).
const listPage = 500

// Run lists and watches until ctx ends. ready is closed once the cache
// holds every workflow pod.
func (w *Watcher) Run(ctx context.Context, ready chan<- struct{}) error {
	pods := w.Kube.CoreV1().Pods(w.Namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return leanList(ctx, pods, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = WorkflowLabel
			return pods.Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformerWithOptions(lw, &corev1.Pod{}, cache.SharedIndexInformerOptions{}) // no resync: it would only re-send unchanged pods
	// The transform is for the watch's pods; the listed ones arrive lean
	// already (Lean on them copies a few fields again).
	if err := inf.SetTransform(Lean); err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: w.update, DeleteFunc: w.delete}); err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	w.store = inf.GetStore()
	stopped := make(chan struct{})
	go func() { inf.RunWithContext(ctx); close(stopped) }()
	defer func() { <-stopped }()
	began := time.Now()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return ctx.Err()
	}
	w.Log.Info("watching workflow pods", "namespace", w.Namespace, "pods", len(w.store.ListKeys()), "listed_in", time.Since(began).Round(time.Millisecond).String())
	close(ready)
	<-ctx.Done()
	return nil
}

// leanList lists the workflow pods page by page, a consistent read (no
// resourceVersion: the informer's "0" would be served from the API
// server's cache in one piece, whatever the limit), and keeps each pod lean.
// The list's resourceVersion is the snapshot every page was read at, where
// the informer's watch starts.
func leanList(ctx context.Context, pods podLister, o metav1.ListOptions) (*corev1.PodList, error) {
	o.LabelSelector, o.ResourceVersion, o.ResourceVersionMatch, o.Limit, o.Continue = WorkflowLabel, "", "", listPage, ""
	out := &corev1.PodList{}
	for {
		page, err := pods.List(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("listing workflow pods: %w", err)
		}
		for i := range page.Items {
			lean, _ := Lean(&page.Items[i])
			out.Items = append(out.Items, *lean.(*corev1.Pod))
		}
		out.ResourceVersion = page.ResourceVersion
		if page.Continue == "" {
			return out, nil
		}
		o.Continue = page.Continue
	}
}

// podLister is the list call of a pods client.
type podLister interface {
	List(ctx context.Context, o metav1.ListOptions) (*corev1.PodList, error)
}

// Cached is how many pods the cache holds (0 before Run).
func (w *Watcher) Cached() int {
	if w.store == nil {
		return 0
	}
	return len(w.store.ListKeys())
}

func (w *Watcher) update(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	cur, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 {
		return
	}
	if !Changed(old, cur) {
		w.count("UPDATE", OutcomeUnchanged)
		return
	}
	w.publish(Event{Type: "UPDATE", Body: cur, OldBody: old})
}

func (w *Watcher) delete(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj // a delete seen on a re-list: the last state known
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		w.publish(Event{Type: "DELETE", Body: pod})
	}
}

func (w *Watcher) publish(e Event) {
	payload, err := json.Marshal(e)
	if err != nil { // a Pod always encodes
		w.Log.Error("encoding a pod event", "pod", e.Body.Namespace+"/"+e.Body.Name, "error", err)
		return
	}
	if w.Hub.Publish(payload) == 0 {
		w.count(e.Type, OutcomeNoStream)
		w.Log.Debug("no event source connected; event dropped", "type", e.Type, "pod", e.Body.Namespace+"/"+e.Body.Name)
		return
	}
	w.count(e.Type, OutcomeSent)
}

func (w *Watcher) count(typ, outcome string) {
	if w.Counted != nil {
		w.Counted(typ, outcome)
	}
}
