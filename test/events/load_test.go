package events

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/yamldocs"
)

// Where the manifests and fixtures are, from this package's directory.
const (
	repoRoot        = "../.."
	eventSourcesDir = repoRoot + "/eventsources"
	sensorsDir      = repoRoot + "/sensors"
	podsDir         = "testdata/pods"
)

// documents returns every document of a YAML file as JSON.
func documents(t *testing.T, path string) []json.RawMessage {
	t.Helper()
	docs, err := yamldocs.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// decodeStrict decodes doc into out and fails on fields out does not have,
// which the API server (the Argo Events CRDs preserve unknown fields) and
// argo-events would both ignore silently.
func decodeStrict(doc json.RawMessage, out any) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}

// loadOne decodes the single document of path strictly into out.
func loadOne(t *testing.T, path string, out any) {
	t.Helper()
	docs := documents(t, path)
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents, want 1", path, len(docs))
	}
	if err := decodeStrict(docs[0], out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func loadSensor(t *testing.T, file string) *v1alpha1.Sensor {
	t.Helper()
	s := &v1alpha1.Sensor{}
	loadOne(t, filepath.Join(sensorsDir, file), s)
	return s
}

func loadEventSource(t *testing.T, file string) *v1alpha1.EventSource {
	t.Helper()
	es := &v1alpha1.EventSource{}
	loadOne(t, filepath.Join(eventSourcesDir, file), es)
	return es
}

// pod returns the captured state of a scenario's pod after step, e.g.
// pod(t, "oom-main", "main-oomkilled") reads testdata/pods/oom-main/02-main-oomkilled.json.
func pod(t *testing.T, scenario, step string) *unstructured.Unstructured {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(podsDir, scenario, "[0-9][0-9]-"+step+".json"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("fixture %s/%s: found %v (%v); rebuild with CAPTURE_FIXTURES=1", scenario, step, matches, err)
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		t.Fatalf("%s: %v", matches[0], err)
	}
	return u
}
