package events

import (
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/podwatch"
	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestLeanEventsFireAsFullOnes shows that the lean watcher loses nothing
// the Sensor reads: for every captured pod change (each step to every later
// one of its scenario, and each state deleted), the shipped Sensor fed the
// watcher's lean event fires exactly when it fired on argo-events' resource
// event with the full pods, and renders the same Job. And an UPDATE the
// watcher does not send (podwatch.Changed false) never fired.
func TestLeanEventsFireAsFullOnes(t *testing.T) {
	sensor := loadSensor(t, "oom-remediation.yaml")
	dep := sensor.Spec.Dependencies[0]
	fullSensor := sensor.DeepCopy()
	fullSensor.Spec.Dependencies[0].Transform = nil // the resource source's events needed none
	full := fullSensor.Spec.Dependencies[0]
	es := loadEventSource(t, "workflow-pods.yaml")

	fired, unchanged := 0, 0
	for _, scenario := range podScenarios(t) {
		steps := stepsOf(t, scenario)
		check := func(name string, typ v1alpha1.ResourceEventType, body, old *unstructured.Unstructured) {
			t.Run(scenario+"/"+name, func(t *testing.T) {
				want, wantErr := filter(t, full, resourceEvent(t, typ, body, old))
				lean := watcherEvent(t, es, "workflow-pods", typ, body, old)
				got, gotErr := filter(t, dep, lean)
				if got != want || (gotErr == nil) != (wantErr == nil) {
					t.Fatalf("lean: fired %v (err %v); full: fired %v (err %v)", got, gotErr, want, wantErr)
				}
				if typ == v1alpha1.UPDATE && !podwatch.Changed(leanPod(t, old), leanPod(t, body)) {
					unchanged++
					if want {
						t.Fatal("an UPDATE the watcher does not send fired the Sensor")
					}
				}
				if !want {
					return
				}
				fired++
				wantJob := renderJob(t, fullSensor, map[string]cloudevents.Event{dep.Name: resourceEvent(t, typ, body, old)})
				gotJob := renderJob(t, sensor, map[string]cloudevents.Event{dep.Name: lean})
				if !reflect.DeepEqual(gotJob, wantJob) {
					t.Errorf("the lean event renders another Job:\nlean: %+v\nfull: %+v", gotJob.Spec.Template.Spec.Containers[0].Env, wantJob.Spec.Template.Spec.Containers[0].Env)
				}
			})
		}
		for i, from := range steps {
			for _, to := range steps[i+1:] {
				check(from+"→"+to, v1alpha1.UPDATE, pod(t, scenario, to), pod(t, scenario, from))
			}
			check("deleted at "+from, v1alpha1.DELETE, pod(t, scenario, from), nil)
		}
	}
	if fired == 0 || unchanged == 0 {
		t.Fatalf("%d changes fired, %d were unchanged for the Sensor: the fixtures no longer cover both", fired, unchanged)
	}
	t.Logf("%d pod changes fired the Sensor, the same with lean and full pods; %d UPDATEs changed nothing it reads", fired, unchanged)
}

// podScenarios lists testdata/pods.
func podScenarios(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(podsDir, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no pod fixtures in %s: %v", podsDir, err)
	}
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = filepath.Base(d)
	}
	return out
}

// stepsOf lists a scenario's steps in order ("running", "main-oomkilled", ...).
func stepsOf(t *testing.T, scenario string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(podsDir, scenario, "[0-9][0-9]-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	steps := make([]string, len(files))
	for i, f := range files {
		steps[i] = strings.TrimSuffix(filepath.Base(f)[3:], ".json")
	}
	return steps
}
