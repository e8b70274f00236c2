package manifests

import (
	"strconv"
	"testing"

	aev1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	eventbusreconciler "github.com/argoproj/argo-events/pkg/reconciler/eventbus"
	sensorreconciler "github.com/argoproj/argo-events/pkg/reconciler/sensor"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestEventsWiring checks that the EventSources and Sensors (eventsources/,
// sensors/) and these manifests agree on names: the ServiceAccounts the RBAC
// here is bound to, the ConfigMap the Sensor's Jobs load, and the watcher the
// EventSource workflow-pods relays (TestPodWatcher checks the watcher).
func TestEventsWiring(t *testing.T) {
	for _, v := range overlays {
		t.Run(v.name, func(t *testing.T) {
			objs := build(t, v)
			pods := find(t, objs, "EventSource", "workflow-pods")
			find(t, objs, "EventSource", "remediator-notifications")
			remediation := find(t, objs, "Sensor", "oom-remediation")
			find(t, objs, "Sensor", "oom-notification")

			// The generic source calls no Kubernetes API: the pod rules go to
			// the watcher, not to this pod.
			if sa := str(t, pods, "spec", "template", "serviceAccountName"); sa != "" {
				t.Errorf("EventSource workflow-pods runs as %q; it needs no Kubernetes permission, the watcher %s has them", sa, podsName)
			}
			checkPodsEventSource(t, objs, pods)
			checkPodChangeTransform(t, remediation)
			if sa := str(t, remediation, "spec", "template", "serviceAccountName"); sa != sensorName {
				t.Errorf("Sensor oom-remediation runs as %q, want %q", sa, sensorName)
			}
			triggers, _, _ := unstructured.NestedSlice(remediation.Object, "spec", "triggers")
			if len(triggers) == 0 {
				t.Fatal("Sensor oom-remediation has no triggers")
			}
			job, _, _ := unstructured.NestedMap(triggers[0].(map[string]any), "template", "k8s", "source", "resource")
			jobObj := &unstructured.Unstructured{Object: job}
			if k := jobObj.GetKind(); k != "Job" {
				t.Fatalf("the oom-remediation trigger creates a %q, want a Job", k)
			}
			if ns := jobObj.GetNamespace(); ns != "" {
				t.Errorf("the Job has namespace %q; without one it goes to the Sensor's namespace, the only one the Sensor's Role covers", ns)
			}
			if sa := str(t, jobObj, "spec", "template", "spec", "serviceAccountName"); sa != remediator {
				t.Errorf("the Job runs as %q, want %q", sa, remediator)
			}
			containers, _, _ := unstructured.NestedSlice(job, "spec", "template", "spec", "containers")
			if len(containers) == 0 {
				t.Fatal("the Job has no containers")
			}
			c := &unstructured.Unstructured{Object: containers[0].(map[string]any)}
			envFrom, _, _ := unstructured.NestedSlice(c.Object, "envFrom")
			if len(envFrom) == 0 || str(t, &unstructured.Unstructured{Object: envFrom[0].(map[string]any)}, "configMapRef", "name") != configMapName {
				t.Errorf("the Job's container does not load ConfigMap %s: envFrom %v", configMapName, envFrom)
			}
		})
	}
}

// str returns the string at path in o ("" if absent), failing on another type.
func str(t *testing.T, o *unstructured.Unstructured, path ...string) string {
	t.Helper()
	s, _, err := unstructured.NestedString(o.Object, path...)
	if err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
	return s
}

// TestEventBus: the cluster-wide overlay brings a JetStream EventBus
// `default` that argo-events accepts, and on which it accepts the Sensors;
// the namespaced overlay leaves the namespace's own EventBus alone.
func TestEventBus(t *testing.T) {
	for _, v := range overlays {
		t.Run(v.name, func(t *testing.T) {
			objs := build(t, v)
			buses := objectsOf(objs, "EventBus")
			if !v.clusterWide {
				if len(buses) != 0 {
					t.Errorf("the namespaced overlay installs an EventBus (%s); it would replace the namespace's own", ids(buses))
				}
				return
			}
			var bus aev1.EventBus
			convert(t, find(t, objs, "EventBus", "default"), &bus)
			if err := eventbusreconciler.ValidateEventBus(&bus); err != nil {
				t.Errorf("EventBus default: %v", err)
			}
			if bus.Spec.JetStream == nil {
				t.Errorf("EventBus default is not a JetStream bus: %+v", bus.Spec)
			}
			for _, o := range objectsOf(objs, "Sensor") {
				var s aev1.Sensor
				convert(t, o, &s)
				if err := sensorreconciler.ValidateSensor(&s, &bus); err != nil {
					t.Errorf("Sensor %s on EventBus default: %v", s.Name, err)
				}
			}
		})
	}
}

// checkPodsEventSource: the EventSource workflow-pods is a generic source
// (and nothing else) whose one event, workflow-pods, dials the watcher's
// Service by its short name in the EventSource's own namespace, on the port
// named grpc, in plaintext, with the payload kept as JSON.
func checkPodsEventSource(t *testing.T, objs []*unstructured.Unstructured, o *unstructured.Unstructured) {
	t.Helper()
	var es aev1.EventSource
	convert(t, o, &es)
	if len(es.Spec.Resource) != 0 {
		t.Errorf("EventSource workflow-pods still has resource entries %v: the watcher replaces them", es.Spec.Resource)
	}
	if len(es.Spec.Generic) != 1 {
		t.Fatalf("EventSource workflow-pods has %d generic entries, want one (workflow-pods)", len(es.Spec.Generic))
	}
	g, ok := es.Spec.Generic["workflow-pods"]
	if !ok {
		t.Fatalf("EventSource workflow-pods has no generic event workflow-pods (the Sensor's dependency names it): %v", es.Spec.Generic)
	}
	var svc corev1.Service
	convert(t, find(t, objs, "Service", podsName), &svc)
	if svc.Namespace != es.Namespace {
		t.Errorf("Service %s in namespace %q, the EventSource in %q: the short name would not resolve", podsName, svc.Namespace, es.Namespace)
	}
	var grpcPort int32
	for _, p := range svc.Spec.Ports {
		if p.Name == "grpc" {
			grpcPort = p.Port
		}
	}
	if want := podsName + ":" + strconv.Itoa(int(grpcPort)); grpcPort == 0 || g.URL != want {
		t.Errorf("generic workflow-pods url = %q, want %q (Service %s, port grpc %d)", g.URL, want, podsName, grpcPort)
	}
	if !g.Insecure {
		t.Error("generic workflow-pods is not insecure: the watcher serves plaintext gRPC")
	}
	if !g.JSONBody {
		t.Error("generic workflow-pods has no jsonBody: the Sensor would get the payload as base64, not JSON")
	}
	if g.Config == "" {
		t.Error("generic workflow-pods has an empty config: argo-events v1.9.10 refuses it (generic/validate.go)")
	}
	if g.AuthSecret != nil || g.Filter != nil {
		t.Errorf("generic workflow-pods has authSecret %v or filter %v, which the watcher does not serve for", g.AuthSecret, g.Filter)
	}
}

// checkPodChangeTransform: the Sensor's dependency on workflow-pods unwraps
// the generic source's envelope ({"metadata", "body"}), so its filters and
// parameters read the watcher's {type, body, oldBody}.
func checkPodChangeTransform(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	var s aev1.Sensor
	convert(t, o, &s)
	n := 0
	for _, d := range s.Spec.Dependencies {
		if d.EventSourceName != "workflow-pods" {
			continue
		}
		n++
		if d.Transform == nil || d.Transform.JQ != ".body" || d.Transform.Script != "" {
			t.Errorf("Sensor oom-remediation dependency %s: transform %+v, want jq \".body\"", d.Name, d.Transform)
		}
	}
	if n != 1 {
		t.Errorf("Sensor oom-remediation has %d dependencies on workflow-pods, want 1", n)
	}
}
