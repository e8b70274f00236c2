package manifests

import (
	"testing"

	aev1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	eventbusreconciler "github.com/argoproj/argo-events/pkg/reconciler/eventbus"
	sensorreconciler "github.com/argoproj/argo-events/pkg/reconciler/sensor"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestEventsWiring checks that the EventSources and Sensors (eventsources/,
// sensors/) and these manifests agree on names: the ServiceAccounts the RBAC
// here is bound to, the ConfigMap the Sensor's Jobs load, and the namespaces
// the EventSource watches.
func TestEventsWiring(t *testing.T) {
	for _, v := range overlays {
		t.Run(v.name, func(t *testing.T) {
			objs := build(t, v)
			pods := find(t, objs, "EventSource", "workflow-pods")
			find(t, objs, "EventSource", "remediator-notifications")
			remediation := find(t, objs, "Sensor", "oom-remediation")
			find(t, objs, "Sensor", "oom-notification")

			if sa := str(t, pods, "spec", "template", "serviceAccountName"); sa != eventSourceName {
				t.Errorf("EventSource workflow-pods runs as %q, want %q (the RBAC here is bound to it)", sa, eventSourceName)
			}
			// "" is every namespace (argo-events passes it to the informer).
			want := v.namespace
			if v.clusterWide {
				want = ""
			}
			if ns := str(t, pods, "spec", "resource", "workflow-pods", "namespace"); ns != want {
				t.Errorf("EventSource workflow-pods watches namespace %q, want %q", ns, want)
			}
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
