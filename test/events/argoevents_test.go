package events

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/podwatch"
	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	commonwebhook "github.com/argoproj/argo-events/pkg/eventsources/common/webhook"
	"github.com/argoproj/argo-events/pkg/eventsources/events"
	"github.com/argoproj/argo-events/pkg/eventsources/sources/webhook"
	"github.com/argoproj/argo-events/pkg/sensors/dependencies"
	"github.com/argoproj/argo-events/pkg/sensors/triggers"
	"github.com/argoproj/argo-events/pkg/shared/logging"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// This file does what argo-events v1.9.10 does between a Kubernetes or HTTP
// event and a trigger, calling its exported code where it has some and
// mirroring the few unexported lines (cited) where it has not.

// resourceEvent is the event the Sensor saw for a pod change reported by
// argo-events' resource event source on pods (the payload of
// pkg/eventsources/sources/resource/start.go, processOne, dispatched), the
// EventSource workflow-pods was until the lean watcher replaced it: kept to
// show that the lean events fire the Sensor exactly as these did
// (TestLeanEventsFireAsFullOnes).
func resourceEvent(t *testing.T, typ v1alpha1.ResourceEventType, body, oldBody *unstructured.Unstructured) cloudevents.Event {
	t.Helper()
	// json.Marshal of the informer's *unstructured.Unstructured, as there.
	objBody, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var oldObjBody []byte // nil for DELETE: marshalled as null
	if oldBody != nil {
		if oldObjBody, err = json.Marshal(oldBody); err != nil {
			t.Fatal(err)
		}
	}
	data, err := json.Marshal(&events.ResourceEventData{
		EventType: string(typ),
		Body:      (*json.RawMessage)(&objBody),
		OldBody:   (*json.RawMessage)(&oldObjBody),
		Version:   "v1",
		Resource:  "pods",
	})
	if err != nil {
		t.Fatal(err)
	}
	return dispatch(t, v1alpha1.ResourceEvent, "workflow-pods", "workflow-pods", data)
}

// watcherEvent is the event the Sensor sees for a pod change reported by
// `remediator pods` (internal/podwatch) through the generic event source
// `name` of es: the watcher's informer holds the lean pods, sends
// {type, body, oldBody} of them, and the generic source wraps it.
func watcherEvent(t *testing.T, es *v1alpha1.EventSource, name string, typ v1alpha1.ResourceEventType, body, oldBody *unstructured.Unstructured) cloudevents.Event {
	t.Helper()
	ev := podwatch.Event{Type: string(typ), Body: leanPod(t, body)}
	if oldBody != nil {
		ev.OldBody = leanPod(t, oldBody)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return genericEvent(t, es, name, payload)
}

// leanPod is what the watcher's informer holds of u.
func leanPod(t *testing.T, u *unstructured.Unstructured) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
		t.Fatal(err)
	}
	lean, err := podwatch.Lean(&p)
	if err != nil {
		t.Fatal(err)
	}
	return lean.(*corev1.Pod)
}

// genericEvent is what argo-events' generic event source `name` of es
// dispatches for one message of its stream (pkg/eventsources/sources/
// generic/start.go, handleOne): the payload under "body" (verbatim JSON with
// jsonBody), the source's metadata beside it.
func genericEvent(t *testing.T, es *v1alpha1.EventSource, name string, payload []byte) cloudevents.Event {
	t.Helper()
	src, ok := es.Spec.Generic[name]
	if !ok {
		t.Fatalf("EventSource %s has no generic event %q", es.Name, name)
	}
	if !src.JSONBody {
		t.Fatalf("EventSource %s, event %s: jsonBody is off; the Sensor's filters read JSON", es.Name, name)
	}
	data, err := json.Marshal(&events.GenericEventData{Metadata: src.Metadata, Body: (*json.RawMessage)(&payload)})
	if err != nil {
		t.Fatal(err)
	}
	return dispatch(t, v1alpha1.GenericEvent, es.Name, name, data)
}

// webhookHandler plays the webhook event source `name` of es: each request
// becomes the payload of pkg/eventsources/sources/webhook/start.go
// (HandleRoute), sent to got for dispatch. Auth is not modelled.
func webhookHandler(t *testing.T, es *v1alpha1.EventSource, name string, got chan<- []byte) http.HandlerFunc {
	t.Helper()
	ctx, ok := es.Spec.Webhook[name]
	if !ok {
		t.Fatalf("EventSource %s has no webhook event %q", es.Name, name)
	}
	route := &commonwebhook.Route{Context: &ctx.WebhookContext, EventSourceName: es.Name, EventName: name}
	logger, err := quietLogs.Build()
	if err != nil {
		t.Fatal(err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != ctx.Method || r.URL.Path != ctx.Endpoint {
			http.Error(w, "wrong method or endpoint", http.StatusNotFound)
			return
		}
		body, err := webhook.GetBody(&w, r, route, logger.Sugar())
		if err != nil {
			return // GetBody answered
		}
		data, err := json.Marshal(&events.WebhookEventData{Header: r.Header, Body: body, Metadata: ctx.Metadata})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		got <- data
		_, _ = w.Write([]byte("success"))
	}
}

// quietLogs configures argo-events' logger to log errors only.
var quietLogs = logging.ConfigureLogLevelLogger(logging.ErrorLevel)

// dispatch wraps an event source's payload in a CloudEvent as
// pkg/eventsources/eventing.go does, and carries it over the EventBus: JSON
// out, JSON in (pkg/eventbus/jetstream/sensor/trigger_conn.go).
func dispatch(t *testing.T, typ v1alpha1.EventSourceType, source, subject string, data []byte) cloudevents.Event {
	t.Helper()
	id := make([]byte, 16) // a random UUID's bytes, printed with %x
	_, _ = rand.Read(id)
	ev := cloudevents.NewEvent()
	ev.SetID(fmt.Sprintf("%x", id))
	ev.SetType(string(typ))
	ev.SetSource(source)
	ev.SetSubject(subject)
	ev.SetTime(time.Now())
	if err := ev.SetData(cloudevents.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	wire, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var received *cloudevents.Event
	if err := json.Unmarshal(wire, &received); err != nil {
		t.Fatal(err)
	}
	return *received
}

// filter runs dependency dep on ce as the Sensor's filterFunc does
// (pkg/sensors/listener.go): transform, convert, Filter. The listener drops
// the event unless pass; a non-nil err is logged as a warning.
func filter(t *testing.T, dep v1alpha1.EventDependency, ce cloudevents.Event) (pass bool, err error) {
	t.Helper()
	if dep.Filters == nil {
		return true, nil
	}
	return dependencies.Filter(argoEvent(transformed(t, dep, ce)), dep.Filters, dep.FiltersLogicalOperator)
}

// transformed is ce after dep's transform: what the filters read and, once
// they pass, what the triggers' parameters read
// (pkg/eventbus/jetstream/sensor/trigger_conn.go, processDependency).
func transformed(t *testing.T, dep v1alpha1.EventDependency, ce cloudevents.Event) cloudevents.Event {
	t.Helper()
	out, err := dependencies.ApplyTransform(&ce, dep.Transform)
	if err != nil {
		t.Fatalf("transform: %v", err)
	}
	return *out
}

// argoEvent is pkg/sensors/listener.go's convertEvent.
func argoEvent(ce cloudevents.Event) *v1alpha1.Event {
	return &v1alpha1.Event{
		Context: &v1alpha1.EventContext{
			DataContentType: ce.Context.GetDataContentType(),
			Source:          ce.Context.GetSource(),
			SpecVersion:     ce.Context.GetSpecVersion(),
			Type:            ce.Context.GetType(),
			Time:            metav1.Time{Time: ce.Context.GetTime()},
			ID:              ce.Context.GetID(),
			Subject:         ce.Context.GetSubject(),
		},
		Data: ce.Data(),
	}
}

// applyTemplate is the first step of pkg/sensors/listener.go's triggerOne:
// the trigger-level parameters applied to a copy of the trigger's template.
func applyTemplate(t *testing.T, trigger v1alpha1.Trigger, fired map[string]cloudevents.Event) *v1alpha1.TriggerTemplate {
	t.Helper()
	if err := triggers.ApplyTemplateParameters(argoEvents(fired), &trigger); err != nil {
		t.Fatalf("trigger parameters: %v", err)
	}
	return trigger.Template
}

// received is what the Sensor s holds of the fired events when it
// triggers: each after its dependency's transform (trigger_conn.go,
// processDependency).
func received(s *v1alpha1.Sensor, fired map[string]cloudevents.Event) (map[string]cloudevents.Event, error) {
	out := map[string]cloudevents.Event{}
	for name, ce := range fired {
		var transform *v1alpha1.EventDependencyTransformer
		for _, d := range s.Spec.Dependencies {
			if d.Name == name {
				transform = d.Transform
			}
		}
		ev, err := dependencies.ApplyTransform(&ce, transform)
		if err != nil {
			return nil, err
		}
		out[name] = *ev
	}
	return out, nil
}

// renderJob is what the k8s trigger of s would create for the fired events:
// template parameters, FetchResource, ApplyResourceParameters
// (pkg/sensors/triggers/standard-k8s). Execute then only adds three
// events.argoproj.io/* labels and the Sensor's namespace.
func renderJob(t *testing.T, s *v1alpha1.Sensor, fired map[string]cloudevents.Event) *batchv1.Job {
	t.Helper()
	fired, err := received(s, fired)
	if err != nil {
		t.Fatalf("transform: %v", err)
	}
	tmpl := applyTemplate(t, s.Spec.Triggers[0], fired)
	obj, err := triggers.FetchKubernetesResource(tmpl.K8s.Source)
	if err != nil {
		t.Fatal(err)
	}
	if err = triggers.ApplyResourceParameters(argoEvents(fired), tmpl.K8s.Parameters, obj); err != nil {
		t.Fatalf("resource parameters: %v", err)
	}
	job := &batchv1.Job{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, job, true); err != nil {
		t.Fatalf("the rendered object is not a batch/v1 Job: %v", err)
	}
	return job
}

func argoEvents(fired map[string]cloudevents.Event) map[string]*v1alpha1.Event {
	out := map[string]*v1alpha1.Event{}
	for dep, ce := range fired {
		out[dep] = argoEvent(ce)
	}
	return out
}
