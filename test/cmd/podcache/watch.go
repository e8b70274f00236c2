package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/podwatch"
	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	eventsourcecommon "github.com/argoproj/argo-events/pkg/eventsources/common"
	"github.com/argoproj/argo-events/pkg/eventsources/sources/resource"
	"github.com/argoproj/argo-events/pkg/metrics"
	"github.com/argoproj/argo-events/pkg/shared/logging"
	"github.com/tidwall/gjson"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/yamldocs"
)

// workflowLabel is the label every Argo Workflows pod carries.
const workflowLabel = podwatch.WorkflowLabel

// watch counts the events and closes seen at the sentinel's UPDATE.
type watch struct {
	sentinelNS, sentinel string
	seen                 chan struct{}

	mu      sync.Mutex
	events  int
	foreign int
	done    bool
}

func (w *watch) counts() (events, foreign int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.events, w.foreign
}

// observe records one event of a pod.
func (w *watch) observe(typ, ns, name string, workflowPod bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.events++
	if !workflowPod {
		w.foreign++
	}
	if typ == "UPDATE" && ns == w.sentinelNS && name == w.sentinel {
		w.done = true
		close(w.seen)
	}
}

// loadEventSource reads the EventSource manifest and its one resource event.
func loadEventSource(path string) (*v1alpha1.EventSource, v1alpha1.ResourceEventSource, error) {
	docs, err := yamldocs.ReadFile(path)
	if err != nil {
		return nil, v1alpha1.ResourceEventSource{}, err
	}
	if len(docs) != 1 {
		return nil, v1alpha1.ResourceEventSource{}, fmt.Errorf("%s: %d documents, want 1", path, len(docs))
	}
	es := &v1alpha1.EventSource{}
	if err := json.NewDecoder(bytes.NewReader(docs[0])).Decode(es); err != nil {
		return nil, v1alpha1.ResourceEventSource{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(es.Spec.Resource) != 1 {
		return nil, v1alpha1.ResourceEventSource{}, fmt.Errorf("%s: %d resource events, want 1", path, len(es.Spec.Resource))
	}
	for _, src := range es.Spec.Resource {
		return es, src, nil
	}
	panic("unreachable")
}

// argoEvents runs argo-events' resource event source on src, as the
// EventSource pod does (it reads $KUBECONFIG itself).
func (w *watch) argoEvents(ctx context.Context, es *v1alpha1.EventSource, src v1alpha1.ResourceEventSource) error {
	var name string
	for n := range es.Spec.Resource {
		name = n
	}
	el := &resource.EventListener{EventSourceName: es.Name, EventName: name, ResourceEventSource: src,
		Metrics: metrics.NewMetrics(es.Namespace)}
	//nolint:unparam // the signature is argo-events' dispatch function; observing never fails
	dispatch := func(data []byte, _ ...eventsourcecommon.Option) error {
		md := gjson.GetBytes(data, "body.metadata")
		w.observe(gjson.GetBytes(data, "type").String(), md.Get("namespace").String(), md.Get("name").String(),
			md.Get(`labels.workflows\.argoproj\.io/workflow`).Exists())
		return nil
	}
	// Errors only: at info level it logs a line per event.
	logger, err := logging.ConfigureLogLevelLogger(logging.ErrorLevel).Build()
	if err != nil {
		return err
	}
	ctx = logging.WithLogger(ctx, logger.Sugar())
	go func() {
		if err := el.StartListening(ctx, dispatch); err != nil {
			fmt.Fprintln(os.Stderr, "podcache: argo-events resource event source:", err)
			os.Exit(1)
		}
	}()
	return nil
}

// lean runs a typed pod informer with the EventSource's label selector and
// the leanPod transform; it returns how many pods the cache holds.
func (w *watch) lean(ctx context.Context, src v1alpha1.ResourceEventSource) (func() int, error) {
	sel, err := resource.LabelSelector(src.Filter.Labels)
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(src.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel.String() }))
	inf := factory.Core().V1().Pods().Informer()
	if err := inf.SetTransform(podwatch.Lean); err != nil {
		return nil, err
	}
	observe := func(typ string, obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			_, wf := p.Labels[workflowLabel]
			w.observe(typ, p.Namespace, p.Name, wf)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { observe("UPDATE", obj) },
		DeleteFunc: func(obj any) { observe("DELETE", obj) },
	}); err != nil {
		return nil, err
	}
	go inf.Run(ctx.Done())
	return func() int { return len(inf.GetStore().ListKeys()) }, nil
}
