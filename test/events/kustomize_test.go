package events

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	sensorreconciler "github.com/argoproj/argo-events/pkg/reconciler/sensor"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/yamldocs"
)

// built is the output of a kustomize build, decoded.
type built struct {
	eventSources map[string]*v1alpha1.EventSource
	sensors      map[string]*v1alpha1.Sensor
}

// kustomize builds dir of an in-memory copy of eventsources/ and sensors/
// (at /repo) to which files (path: content) are added.
func kustomize(t *testing.T, dir string, files map[string]string) (built, error) {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	for _, src := range []string{eventSourcesDir, sensorsDir} {
		err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repoRoot, path)
			return fs.WriteFile(filepath.Join("/repo", rel), data)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for path, content := range files {
		if err := fs.WriteFile(filepath.Join("/repo", path), []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, filepath.Join("/repo", dir))
	if err != nil {
		return built{}, err
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	docs, err := yamldocs.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	b := built{eventSources: map[string]*v1alpha1.EventSource{}, sensors: map[string]*v1alpha1.Sensor{}}
	for _, doc := range docs {
		var meta metav1.PartialObjectMetadata
		if err := json.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		var into any
		switch meta.Kind {
		case "EventSource":
			es := &v1alpha1.EventSource{}
			b.eventSources[meta.Name], into = es, es
		case "Sensor":
			s := &v1alpha1.Sensor{}
			b.sensors[meta.Name], into = s, s
		default:
			t.Fatalf("unexpected %s %s", meta.Kind, meta.Name)
		}
		if err := decodeStrict(doc, into); err != nil {
			t.Fatalf("%s %s after kustomize: %v", meta.Kind, meta.Name, err)
		}
	}
	return b, nil
}

func mustKustomize(t *testing.T, dir string, files map[string]string) built {
	t.Helper()
	b, err := kustomize(t, dir, files)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return b
}

func TestKustomizeDefaults(t *testing.T) {
	b := mustKustomize(t, "eventsources", nil)
	if len(b.eventSources) != 2 || b.eventSources["workflow-pods"] == nil || b.eventSources["remediator-notifications"] == nil {
		t.Errorf("eventsources/ builds %v", b.eventSources)
	}
	b = mustKustomize(t, "sensors", nil)
	if len(b.sensors) != 2 || b.sensors["oom-remediation"] == nil || b.sensors["oom-notification"] == nil {
		t.Fatalf("sensors/ builds %v", b.sensors)
	}
	if b.sensors["oom-notification"].Spec.Triggers[0].Template.Slack == nil {
		t.Error("the default oom-notification is not the Slack one")
	}
}

// TestKustomizeOverlay builds an overlay like those of manifests/: a
// namespace, an image override, the webhook-auth component and a
// replacement narrowing the pod watch to the install namespace.
func TestKustomizeOverlay(t *testing.T) {
	b := mustKustomize(t, "overlay", map[string]string{"overlay/kustomization.yaml": `
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: argo
resources:
  - ../eventsources
  - ../sensors
components:
  - ../eventsources/webhook-auth
images:
  - name: ghcr.io/argo-oom-remediator/remediator
    newName: registry.example.com/remediator
    newTag: v9.9.9
replacements:
  - source:
      kind: EventSource
      name: workflow-pods
      fieldPath: metadata.namespace
    targets:
      - select:
          kind: EventSource
          name: workflow-pods
        fieldPaths:
          - spec.resource.workflow-pods.namespace
        options:
          create: true
`})
	if ns := b.eventSources["workflow-pods"].Spec.Resource["workflow-pods"].Namespace; ns != "argo" {
		t.Errorf("watched namespace = %q, want argo (from the replacement)", ns)
	}
	auth := b.eventSources["remediator-notifications"].Spec.Webhook["remediations"].AuthSecret
	if auth == nil || auth.Name != "oom-remediator-webhook" || auth.Key != "token" {
		t.Errorf("authSecret = %v, want oom-remediator-webhook/token", auth)
	}

	sensor := b.sensors["oom-remediation"]
	bus := &v1alpha1.EventBus{Spec: v1alpha1.EventBusSpec{JetStream: &v1alpha1.JetStreamBus{}}}
	if err := sensorreconciler.ValidateSensor(sensor, bus); err != nil {
		t.Fatal(err)
	}
	// The Sensor survives kustomize (YAML anchors included): it renders the
	// same Job, plus the component's token.
	job := renderJob(t, sensor, map[string]cloudevents.Event{
		sensor.Spec.Dependencies[0].Name: update("oom-main", "running", "main-oomkilled").cloudEvent(t),
	})
	c := job.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example.com/remediator:v9.9.9" {
		t.Errorf("image = %q, want the overlay's", c.Image)
	}
	if e := env(job); e["REMEDIATOR_REASON"] != "OOMKilled" || e["REMEDIATOR_WORKFLOW"] != "etl-nightly" ||
		e["REMEDIATOR_SINK_TOKEN_FILE"] != "/var/run/secrets/argo-oom-remediator/webhook/token" {
		t.Errorf("env = %v", e)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/var/run/secrets/argo-oom-remediator/webhook" {
		t.Errorf("volumeMounts = %v", c.VolumeMounts)
	}
	vols := job.Spec.Template.Spec.Volumes
	if len(vols) != 1 || vols[0].Secret == nil || vols[0].Secret.SecretName != "oom-remediator-webhook" ||
		len(vols[0].Secret.Items) != 1 || vols[0].Secret.Items[0] != (corev1.KeyToPath{Key: "token", Path: "token"}) {
		t.Errorf("volumes = %v", vols)
	}
	assertValidJobMeta(t, job)
}

// TestKustomizeWebhookVariant follows the swap documented in
// sensors/kustomization.yaml.
func TestKustomizeWebhookVariant(t *testing.T) {
	original, err := os.ReadFile(filepath.Join(sensorsDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	swapped := strings.Replace(string(original), "- oom-notification.yaml", "- oom-notification-webhook.yaml", 1)
	b := mustKustomize(t, "sensors", map[string]string{"sensors/kustomization.yaml": swapped})
	if s := b.sensors["oom-notification"]; s == nil || s.Spec.Triggers[0].Template.HTTP == nil {
		t.Errorf("after the swap oom-notification is %v, want the http variant", s)
	}

	both := strings.Replace(string(original), "- oom-notification.yaml", "- oom-notification.yaml\n  - oom-notification-webhook.yaml", 1)
	if _, err := kustomize(t, "sensors", map[string]string{"sensors/kustomization.yaml": both}); err == nil {
		t.Error("kustomize accepts both notification Sensors at once")
	}
}
