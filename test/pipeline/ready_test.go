package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Log lines of argo-events v1.9.10 that mark a service ready.
const (
	webhookReady  = "route is activated"                        // common/webhook
	sensorReady   = "started subscribing to events for trigger" // sensors/listener.go
	publishedLine = "Succeeded to publish an event"             // eventsources/eventing.go
)

// waitReady waits until both Sensors subscribed, the webhook route is
// active, and the workflow-pods event source demonstrably publishes pod
// updates: a canary pod with the workflow label but no node-id annotation
// (so the Sensor ignores it) is touched until an event for it goes out. The
// touch changes the workflow label, which the pod watcher sends (it drops
// an UPDATE that changes nothing the Sensor reads).
func (p *pipeline) waitReady(ctx context.Context) error {
	for _, w := range []struct{ logger, text string }{
		{"sensor-oom-remediation", sensorReady},
		{"sensor-oom-notification", sensorReady},
		{"eventsource-remediator-notifications", webhookReady},
	} {
		if err := p.Logs.waitFor(ctx, w.logger, w.text); err != nil {
			return err
		}
	}
	return p.canary(ctx)
}

func (p *pipeline) canary(ctx context.Context) error {
	pods := p.C.Kube.CoreV1().Pods(p.NS)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "eventsource-canary", Labels: map[string]string{"workflows.argoproj.io/workflow": "canary"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "canary"}}},
	}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return err
	}
	const logger = "eventsource-workflow-pods"
	for i := 0; ; i++ {
		before, _ := p.Logs.count(logger, publishedLine)
		patch := fmt.Sprintf(`{"metadata":{"labels":{"workflows.argoproj.io/workflow":%q}}}`, "canary-"+strconv.Itoa(i))
		if _, err := pods.Patch(ctx, pod.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return err
		}
		wait, cancel := context.WithTimeout(ctx, time.Second)
		published := p.published(wait, logger, before)
		cancel()
		if published {
			return pods.Delete(ctx, pod.Name, metav1.DeleteOptions{})
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the workflow-pods event source never published a pod update: %w", ctx.Err())
		}
	}
}

// published reports whether logger logs publishedLine more than before
// times before ctx ends.
func (p *pipeline) published(ctx context.Context, logger string, before int) bool {
	for {
		n, changed := p.Logs.count(logger, publishedLine)
		if n > before {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}
