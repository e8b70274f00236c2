package watch

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/metrics"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// Reasons of the remediator's Events that the counter reads.
const (
	reasonCompleted          = "TaskResultComplete"
	reasonCreated            = "TaskResultCreate"
	reasonNotificationFailed = "NotificationFailed"
	// unknownTrigger labels a rescue whose Event names no trigger (written
	// by an older remediator).
	unknownTrigger = "unknown"
	// forget is how long an Event's UID is remembered after it was seen:
	// longer than the API server keeps Events (1 h by default).
	forget = 3 * time.Hour
)

// Events counts the remediator's Events into the metrics: each Event is
// counted once, those that exist when the counter starts are not (a
// restart must not count the last hour's rescues again).
type Events struct {
	Kube kubernetes.Interface
	// Namespace limits the Events read; empty: every namespace.
	Namespace string
	Metrics   *metrics.Metrics
	Terminal  *Terminal
	// Rescued, when set, is told of every rescue, those of the Events that
	// exist when the counter starts included (the resubmit follows them).
	Rescued func(namespace, workflow, nodeID string)
	Log     *slog.Logger

	seen map[types.UID]time.Time
}

// Run lists and watches until ctx ends; a watch that ends (expired
// resourceVersion, API server restart) is followed by a new list that
// counts what the gap hid.
func (e *Events) Run(ctx context.Context) {
	e.seen = map[types.UID]time.Time{}
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("source", remediate.Component).String()}
	pace := rate.NewLimiter(rate.Every(2*time.Second), 1)
	first := true
	for pace.Wait(ctx) == nil {
		rv, err := e.list(ctx, opts, !first)
		if err != nil {
			e.Log.Warn("listing the remediator's Events failed; trying again", "error", err)
			continue
		}
		first = false
		if err := e.watch(ctx, opts, rv); err != nil && ctx.Err() == nil {
			e.Log.Info("the watch of the remediator's Events ended; listing again", "error", err)
		}
	}
}

func (e *Events) list(ctx context.Context, opts metav1.ListOptions, count bool) (string, error) {
	var rv string
	for {
		list, err := e.Kube.CoreV1().Events(e.Namespace).List(ctx, opts)
		if err != nil {
			return "", fmt.Errorf("listing events in %q: %w", e.Namespace, err)
		}
		for i := range list.Items {
			if count {
				e.count(&list.Items[i])
			} else {
				e.seen[list.Items[i].UID] = time.Now()
				e.rescued(&list.Items[i])
			}
		}
		if rv == "" {
			rv = list.ResourceVersion
		}
		if list.Continue == "" {
			e.prune()
			return rv, nil
		}
		opts.Continue = list.Continue
	}
}

func (e *Events) watch(ctx context.Context, opts metav1.ListOptions, rv string) error {
	opts.ResourceVersion, opts.AllowWatchBookmarks = rv, true
	w, err := e.Kube.CoreV1().Events(e.Namespace).Watch(ctx, opts)
	if err != nil {
		return fmt.Errorf("watching events in %q: %w", e.Namespace, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("watch of events in %q closed", e.Namespace)
			}
			switch ev.Type {
			case watch.Error:
				return fmt.Errorf("watch of events in %q: %v", e.Namespace, ev.Object)
			case watch.Added, watch.Modified:
				if k, ok := ev.Object.(*corev1.Event); ok {
					e.count(k)
				}
			}
		}
	}
}

// count counts an Event unless it was counted before.
func (e *Events) count(k *corev1.Event) {
	if _, ok := e.seen[k.UID]; ok {
		return
	}
	e.seen[k.UID] = time.Now()
	trigger := k.Annotations[remediate.AnnotationTrigger]
	if trigger == "" {
		trigger = unknownTrigger
	}
	ns := k.InvolvedObject.Namespace
	switch k.Reason {
	case reasonCompleted, reasonCreated:
		e.Metrics.Rescues.WithLabelValues(ns, metrics.OutcomeRemediated, trigger).Inc()
		e.rescued(k)
		if finished, err := time.Parse(time.RFC3339, k.Annotations[remediate.AnnotationEventNodeFinished]); err == nil && e.Terminal != nil {
			e.Terminal.Track(ns, k.InvolvedObject.Name, finished)
		}
	case remediate.ReasonRerunByArgo:
		e.Metrics.Rescues.WithLabelValues(ns, metrics.OutcomeRerunByArgo, trigger).Inc()
	case remediate.ReasonStuck:
		e.Metrics.Rescues.WithLabelValues(ns, metrics.OutcomeStuck, trigger).Inc()
	case reasonNotificationFailed:
		e.Metrics.NotificationFailures.WithLabelValues("node").Inc()
	}
}

// rescued tells Rescued of a rescue's Event.
func (e *Events) rescued(k *corev1.Event) {
	node := k.Annotations[remediate.AnnotationEventNode]
	if e.Rescued == nil || node == "" || (k.Reason != reasonCompleted && k.Reason != reasonCreated) {
		return
	}
	e.Rescued(k.InvolvedObject.Namespace, k.InvolvedObject.Name, node)
}

func (e *Events) prune() {
	for uid, at := range e.seen {
		if time.Since(at) > forget {
			delete(e.seen, uid)
		}
	}
}
