package events

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	eventsourcereconciler "github.com/argoproj/argo-events/pkg/reconciler/eventsource"
	sensorreconciler "github.com/argoproj/argo-events/pkg/reconciler/sensor"
	sharedutil "github.com/argoproj/argo-events/pkg/shared/util"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/types"
)

// optionalVariants are manifests deliberately left out of every
// kustomization; each file says how to use it.
var optionalVariants = []string{"sensors/oom-notification-webhook.yaml"}

// manifestFiles lists the YAML files under eventsources/ and sensors/,
// kustomizations included, relative to the repository root.
func manifestFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{eventSourcesDir, sensorsDir} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(repoRoot, path)
				files = append(files, filepath.ToSlash(rel))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func isKustomization(file string) bool { return filepath.Base(file) == "kustomization.yaml" }

// TestManifestsValidate decodes every document strictly into the argo-events
// types and runs the validation the argo-events controller runs.
func TestManifestsValidate(t *testing.T) {
	bus := &v1alpha1.EventBus{Spec: v1alpha1.EventBusSpec{JetStream: &v1alpha1.JetStreamBus{Version: "latest"}}}
	for _, file := range manifestFiles(t) {
		if isKustomization(file) {
			continue
		}
		for i, doc := range documents(t, filepath.Join(repoRoot, file)) {
			var meta metav1.TypeMeta
			if err := json.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s #%d: %v", file, i, err)
			}
			t.Run(file+"/"+meta.Kind, func(t *testing.T) {
				if meta.APIVersion != v1alpha1.SchemeGroupVersion.String() {
					t.Fatalf("apiVersion %q", meta.APIVersion)
				}
				switch meta.Kind {
				case "EventSource":
					es := &v1alpha1.EventSource{}
					if err := decodeStrict(doc, es); err != nil {
						t.Fatal(err)
					}
					if err := eventsourcereconciler.ValidateEventSource(es); err != nil {
						t.Fatalf("ValidateEventSource: %v", err)
					}
				case "Sensor":
					s := &v1alpha1.Sensor{}
					if err := decodeStrict(doc, s); err != nil {
						t.Fatal(err)
					}
					if err := sensorreconciler.ValidateSensor(s, bus); err != nil {
						t.Fatalf("ValidateSensor: %v", err)
					}
					checkTriggers(t, s)
				default:
					t.Fatalf("unexpected kind %q", meta.Kind)
				}
			})
		}
	}
}

// checkTriggers covers two mistakes ValidateSensor lets through.
func checkTriggers(t *testing.T, s *v1alpha1.Sensor) {
	t.Helper()
	for _, trig := range s.Spec.Triggers {
		// A quoted factor or jitter is kept as a JSON string and fails to
		// parse on every retry.
		if trig.RetryStrategy != nil {
			if _, err := sharedutil.Convert2WaitBackoff(trig.RetryStrategy); err != nil {
				t.Errorf("trigger %s: retryStrategy: %v", trig.Template.Name, err)
			}
			if !trig.AtLeastOnce {
				t.Errorf("trigger %s: retryStrategy without atLeastOnce", trig.Template.Name)
			}
		}
		// A default `value` is applied when the key is missing (and, with
		// several dependencies, when another dependency fired), hiding the
		// mistake.
		// The one exception: the wait container's evidence, whose empty
		// value ("not shown terminated") argo-events cannot render from a
		// template, and whose loss costs the proof only (issue 13).
		for _, p := range triggerParameters(trig) {
			if p.Src != nil && p.Src.Value != nil && (!evidenceDest[p.Dest] || *p.Src.Value != "") {
				t.Errorf("trigger %s: parameter for %s has a default value %q", trig.Template.Name, p.Dest, *p.Src.Value)
			}
		}
	}
}

// evidenceDest are the destinations of the oom-remediation trigger's
// wait-container evidence, REMEDIATOR_WAIT_EXIT_CODE and _FINISHED_AT.
var evidenceDest = map[string]bool{
	"spec.template.spec.containers.0.env.6.value": true,
	"spec.template.spec.containers.0.env.7.value": true,
}

func triggerParameters(trig v1alpha1.Trigger) []v1alpha1.TriggerParameter {
	params := slices.Clone(trig.Parameters)
	if k8s := trig.Template.K8s; k8s != nil {
		params = append(params, k8s.Parameters...)
	}
	if slack := trig.Template.Slack; slack != nil {
		params = append(params, slack.Parameters...)
	}
	if h := trig.Template.HTTP; h != nil {
		params = append(append(params, h.Parameters...), h.Payload...)
	}
	return params
}

// TestRetryFactorsAreNumbers reads the raw YAML: factor and jitter must be
// YAML numbers, not strings that happen to hold one.
func TestRetryFactorsAreNumbers(t *testing.T) {
	for _, file := range manifestFiles(t) {
		if !strings.HasPrefix(file, "sensors/") || isKustomization(file) {
			continue
		}
		for _, doc := range documents(t, filepath.Join(repoRoot, file)) {
			var raw struct {
				Spec struct {
					Triggers []struct {
						Template      struct{ Name string }
						RetryStrategy map[string]any `json:"retryStrategy"`
					}
				}
			}
			if err := json.Unmarshal(doc, &raw); err != nil {
				t.Fatal(err)
			}
			for _, trig := range raw.Spec.Triggers {
				t.Run(file+"/"+trig.Template.Name, func(t *testing.T) {
					if trig.RetryStrategy == nil {
						t.Fatal("no retryStrategy")
					}
					for _, key := range []string{"factor", "jitter"} {
						if v, ok := trig.RetryStrategy[key]; ok {
							if _, isNumber := v.(float64); !isNumber {
								t.Errorf("retryStrategy.%s = %#v (%T), want an unquoted number", key, v, v)
							}
						}
					}
					if _, ok := trig.RetryStrategy["factor"]; !ok {
						t.Error("retryStrategy without factor")
					}
				})
			}
		}
	}
}

// TestEveryManifestIsListed: a file nobody includes is a file nobody
// deploys (or tests); only the documented optional variants may be unlisted.
func TestEveryManifestIsListed(t *testing.T) {
	listed := map[string]bool{}
	for _, file := range manifestFiles(t) {
		if !isKustomization(file) {
			continue
		}
		listed[file] = true
		var k types.Kustomization
		docs := documents(t, filepath.Join(repoRoot, file))
		if len(docs) != 1 {
			t.Fatalf("%s: %d documents", file, len(docs))
		}
		if err := decodeStrict(docs[0], &k); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		refs := slices.Concat(k.Resources, k.Components)
		for _, p := range k.Patches {
			if p.Path != "" {
				refs = append(refs, p.Path)
			}
		}
		for _, ref := range refs {
			path := filepath.ToSlash(filepath.Join(filepath.Dir(file), ref))
			if _, err := os.Stat(filepath.Join(repoRoot, path)); err != nil {
				t.Errorf("%s lists %s: %v", file, ref, err)
			}
			listed[path] = true
		}
	}
	for _, file := range manifestFiles(t) {
		if !listed[file] && !slices.Contains(optionalVariants, file) {
			t.Errorf("%s is in no kustomization and not a documented optional variant", file)
		}
	}
	for _, file := range optionalVariants {
		if listed[file] {
			t.Errorf("optional variant %s is listed by default", file)
		}
	}
}

// TestWorkflowPodsEventSource pins what the Sensor relies on: the generic
// event source that relays `remediator pods` (manifests/base), JSON bodies
// the filters can read, and the dependency's transform that unwraps them.
func TestWorkflowPodsEventSource(t *testing.T) {
	es := loadEventSource(t, "workflow-pods.yaml")
	if len(es.Spec.Resource) > 0 {
		t.Error("a resource event source caches every workflow pod in full; the lean watcher replaces it")
	}
	src, ok := es.Spec.Generic["workflow-pods"]
	if !ok {
		t.Fatal("no generic event workflow-pods")
	}
	if src.URL != "oom-remediator-pods:9000" || !src.Insecure || !src.JSONBody {
		t.Errorf("generic = url %s, insecure %v, jsonBody %v; want oom-remediator-pods:9000 (the Service, same namespace), plaintext, JSON bodies",
			src.URL, src.Insecure, src.JSONBody)
	}
	dep := loadSensor(t, "oom-remediation.yaml").Spec.Dependencies[0]
	if dep.EventSourceName != es.Name || dep.EventName != "workflow-pods" {
		t.Errorf("dependency reads %s/%s, want %s/workflow-pods", dep.EventSourceName, dep.EventName, es.Name)
	}
	if dep.Transform == nil || dep.Transform.JQ != ".body" {
		t.Errorf("dependency transform = %+v, want jq .body (unwraps the generic source's envelope)", dep.Transform)
	}

	wh := loadEventSource(t, "remediator-notifications.yaml").Spec.Webhook["remediations"]
	if wh.Port != "12000" || wh.Endpoint != "/remediations" || wh.Method != http.MethodPost || wh.AuthSecret != nil {
		t.Errorf("webhook = port %s, endpoint %s, method %s, authSecret %v; want 12000 /remediations POST and no auth by default",
			wh.Port, wh.Endpoint, wh.Method, wh.AuthSecret)
	}
}
