package events

import (
	"testing"

	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// podEvent names a pod event by its captured states: an UPDATE from one
// step to the next, or the DELETE that carries the last state.
type podEvent struct {
	typ             v1alpha1.ResourceEventType
	scenario        string
	oldStep, atStep string
}

func update(scenario, from, to string) podEvent {
	return podEvent{v1alpha1.UPDATE, scenario, from, to}
}

func deletion(scenario string) podEvent {
	return podEvent{v1alpha1.DELETE, scenario, "", "deleted"}
}

// cloudEvent builds the event as the workflow-pods EventSource sends it.
func (e podEvent) cloudEvent(t *testing.T) cloudevents.Event {
	t.Helper()
	es := loadEventSource(t, "workflow-pods.yaml")
	var old *unstructured.Unstructured // none for DELETE
	if e.typ == v1alpha1.UPDATE {
		old = pod(t, e.scenario, e.oldStep)
	}
	return watcherEvent(t, es, "workflow-pods", e.typ, pod(t, e.scenario, e.atStep), old)
}

// TestRemediationFilter runs captured pod events through the oom-remediation
// Sensor's dependency filter, and the fired ones through its trigger.
func TestRemediationFilter(t *testing.T) {
	sensor := loadSensor(t, "oom-remediation.yaml")
	dep := sensor.Spec.Dependencies[0]
	cases := []struct {
		name   string
		event  podEvent
		reason string // "": must not fire
	}{
		{"main OOMKilled while wait still runs does not fire yet", update("oom-main", "running", "main-oomkilled"), ""},
		{"wait's end after main's OOM fires, with the proof", update("oom-main", "main-oomkilled", "wait-killed"), "OOMKilled"},
		{"OOM and wait's end in one update (a pod-level OOM) fire", update("oom-main", "running", "wait-killed"), "OOMKilled"},
		{"deletion marks of an OOMKilled pod do not fire", update("oom-main", "wait-killed", "grace-period-zero"), ""},
		{"deletion after OOM fires", deletion("oom-main"), "deleted"},
		{"main completing does not fire", update("succeeded", "running", "main-completed"), ""},
		{"wait completing does not fire", update("succeeded", "main-completed", "wait-completed"), ""},
		{"deletion of a succeeded pod does not fire", deletion("succeeded"), ""},
		{"terminating while wait runs does not fire", update("deleted-running", "running", "terminating"), ""},
		{"deletion with wait still running fires", deletion("deleted-running"), "deleted"},
		{"main failing while wait runs does not fire", update("wait-failed", "running", "main-failed"), ""},
		{"wait terminated non-zero without OOM fires", update("wait-failed", "main-failed", "wait-failed"), "wait-failed"},
		{"non-workflow pod OOMKilled does not fire", update("not-a-workflow-pod", "running", "app-oomkilled"), ""},
		{"init container OOMKilled fires", update("init-oom", "initializing", "init-oomkilled"), "OOMKilled"},
		{"ContainerSet container completing does not fire", update("containerset-oom", "running", "prepare-completed"), ""},
		{"ContainerSet container OOMKilled while wait runs does not fire yet", update("containerset-oom", "prepare-completed", "train-oomkilled"), ""},
		{"ContainerSet: wait's end after the OOM fires", update("containerset-oom", "train-oomkilled", "wait-killed"), "OOMKilled"},
		{"workflow pod without node-id annotation does not fire", update("no-node-id", "running", "main-oomkilled"), ""},
		{"long names and unicode: OOMKilled while wait runs does not fire yet", update("long-names", "running", "main-oomkilled"), ""},
		{"long names and unicode: deletion fires", deletion("long-names"), "deleted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ce := tc.event.cloudEvent(t)
			pass, err := filter(t, dep, ce)
			// Every path in the filter exists in every pod event, so no
			// event is judged with an error (a warning per pod update).
			if err != nil {
				t.Fatalf("filter error (the Sensor would log a warning): %v", err)
			}
			if want := tc.reason != ""; pass != want {
				t.Fatalf("fired = %v, want %v", pass, want)
			}
			if !pass {
				return
			}
			job := renderJob(t, sensor, map[string]cloudevents.Event{dep.Name: ce})
			if got := env(job)["REMEDIATOR_REASON"]; got != tc.reason {
				t.Errorf("REMEDIATOR_REASON = %q, want %q", got, tc.reason)
			}
			checkEvidence(t, job, tc.event)
			if got := job.Labels[labelReason]; got != tc.reason {
				t.Errorf("label %s = %q, want %q", labelReason, got, tc.reason)
			}
			assertValidJobMeta(t, job)
		})
	}
}
