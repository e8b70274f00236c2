// Package kubeevent records Kubernetes Events on Workflows, so that what the
// remediator did shows in `kubectl describe workflow` and in the Argo UI.
//
// Events are written directly (one create each), not through client-go's
// asynchronous broadcaster, because the remediator is a short-lived Job that
// must not exit with events still queued.
package kubeevent

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argoproj/argo-workflows/v3/pkg/apis/workflow"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Recorder writes Events. Failures are logged, never returned: an Event is
// a courtesy and must not fail a remediation.
type Recorder struct {
	Kube     kubernetes.Interface
	Instance string // who records, e.g. the Job's pod name
	Log      *slog.Logger
	Now      func() time.Time
}

var _ remediate.Recorder = Recorder{}

// Record implements remediate.Recorder.
func (r Recorder) Record(ctx context.Context, ref remediate.WorkflowRef, warning bool, reason, message string) {
	now := metav1.NewTime(r.Now())
	typ := corev1.EventTypeNormal
	if warning {
		typ = corev1.EventTypeWarning
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:        fmt.Sprintf("%s.%x", ref.Name, now.UnixNano()),
			Namespace:   ref.Namespace,
			Annotations: annotations(ref),
		},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: workflow.APIVersion,
			Kind:       workflow.WorkflowKind,
			Namespace:  ref.Namespace,
			Name:       ref.Name,
			UID:        types.UID(ref.UID),
		},
		Reason:              reason,
		Message:             message,
		Type:                typ,
		Source:              corev1.EventSource{Component: remediate.Component},
		ReportingController: remediate.Component,
		ReportingInstance:   r.Instance,
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
	}
	if _, err := r.Kube.CoreV1().Events(ref.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		r.Log.Warn("recording a Kubernetes Event failed", "workflow", ref.Namespace+"/"+ref.Name, "reason", reason, "error", err)
	}
}

// annotations say which node and trigger the Event is about, for the
// metrics of `remediator watch`; nil when it is about the whole workflow.
func annotations(ref remediate.WorkflowRef) map[string]string {
	a := map[string]string{}
	if ref.NodeID != "" {
		a[remediate.AnnotationEventNode] = ref.NodeID
	}
	if ref.Trigger != "" {
		a[remediate.AnnotationTrigger] = ref.Trigger
	}
	if !ref.NodeFinished.IsZero() {
		a[remediate.AnnotationEventNodeFinished] = ref.NodeFinished.UTC().Format(time.RFC3339)
	}
	if len(a) == 0 {
		return nil
	}
	return a
}
