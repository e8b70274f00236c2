package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// clusterScoped are the kinds in the output that must have no namespace.
var clusterScoped = map[string]bool{"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "ClusterWorkflowTemplate": true}

func TestBuild(t *testing.T) {
	for _, v := range allVariants {
		t.Run(v.name, func(t *testing.T) {
			objs := build(t, v)
			for _, want := range [][2]string{
				{"ServiceAccount", remediator}, {"ServiceAccount", eventSourceName}, {"ServiceAccount", sensorName},
				{"ConfigMap", configMapName}, {"CronJob", sweepName}, {"WorkflowTemplate", templateName},
				{"Deployment", podsName}, {"Service", podsName},
			} {
				find(t, objs, want[0], want[1])
			}
			if got := has(objs, "ClusterWorkflowTemplate", templateName); got != v.clusterWide {
				t.Errorf("ClusterWorkflowTemplate present: %v, want %v", got, v.clusterWide)
			}
		})
	}
}

func TestOverlaySetsNamespace(t *testing.T) {
	for _, v := range overlays {
		t.Run(v.name, func(t *testing.T) {
			for _, o := range build(t, v) {
				want := v.namespace
				if clusterScoped[o.GetKind()] {
					want = ""
				}
				if o.GetNamespace() != want {
					t.Errorf("%s %s: namespace %q, want %q", o.GetKind(), o.GetName(), o.GetNamespace(), want)
				}
			}
		})
	}
}

func TestOverlaySetsImage(t *testing.T) {
	for _, v := range allVariants {
		t.Run(v.name, func(t *testing.T) {
			wantImage := image // the base leaves the tag to the overlays
			if v.installs {
				wantImage = image + ":" + overlayTag(t, v)
			}
			n := 0
			for _, o := range build(t, v) {
				for _, img := range images(o.Object) {
					if img == image || strings.HasPrefix(img, image+":") || strings.HasPrefix(img, image+"@") {
						n++
						if img != wantImage {
							t.Errorf("%s %s: image %q, want %q", o.GetKind(), o.GetName(), img, wantImage)
						}
					}
				}
			}
			want := 3 // the sweep CronJob, the WorkflowTemplate and the pod watcher
			if v.installs {
				want++ // the Job in the Sensor oom-remediation
			}
			if v.clusterWide {
				want++ // the ClusterWorkflowTemplate
			}
			if n != want {
				t.Errorf("found the remediator image %d times, want %d", n, want)
			}
		})
	}
}

// overlayTag reads the tag the overlay under v sets in its `images:`.
func overlayTag(t *testing.T, v variant) string {
	t.Helper()
	dir := map[bool]string{false: namespacedVariant.dir, true: clusterWideVariant.dir}[v.clusterWide]
	data, err := os.ReadFile(filepath.Join(repoRoot(t), dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", dir, err)
	}
	for _, img := range k.Images {
		if img.Name == image && img.NewTag != "" && img.NewTag != "latest" {
			return img.NewTag
		}
	}
	t.Fatalf("%s/kustomization.yaml sets no pinned tag for %s in images:", dir, image)
	return ""
}

// images returns every string value of an "image" key anywhere in obj, so
// that images inside custom resources (the Sensor's Job) count as well.
func images(obj any) []string {
	var out []string
	switch x := obj.(type) {
	case map[string]any:
		for k, v := range x {
			if s, ok := v.(string); ok && k == "image" {
				out = append(out, s)
			} else {
				out = append(out, images(v)...)
			}
		}
	case []any:
		for _, v := range x {
			out = append(out, images(v)...)
		}
	}
	return out
}

// TestSinkURLPointsAtWebhook: the CloudEvents go to the webhook EventSource's
// Service (argo-events names it <eventsource>-eventsource-svc) by its short
// name, which the pods loading the ConfigMap resolve in their own namespace,
// the install namespace (TestEveryNamespaceFollows checks they all run there).
func TestSinkURLPointsAtWebhook(t *testing.T) {
	for _, v := range overlays {
		t.Run(v.name, func(t *testing.T) {
			var cm corev1.ConfigMap
			convert(t, find(t, build(t, v), "ConfigMap", configMapName), &cm)
			const want = "http://remediator-notifications-eventsource-svc:12000/remediations"
			if got := cm.Data["REMEDIATOR_SINK_URL"]; got != want {
				t.Errorf("REMEDIATOR_SINK_URL = %q, want %q", got, want)
			}
			if got, want := cm.Data["REMEDIATOR_NUDGE"], map[bool]string{false: "false", true: "true"}[v.nudge]; got != want {
				t.Errorf("REMEDIATOR_NUDGE = %q, want %q", got, want)
			}
		})
	}
}

// TestSweepScope: the namespaced sweep scans its own namespace only (it may
// not list elsewhere); the cluster-wide one scans every namespace.
func TestSweepScope(t *testing.T) {
	for _, v := range overlays {
		t.Run(v.name, func(t *testing.T) {
			var cj batchv1.CronJob
			convert(t, find(t, build(t, v), "CronJob", sweepName), &cj)
			c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
			if len(c.Args) == 0 || c.Args[0] != "sweep" {
				t.Errorf("args = %q, want [sweep]", c.Args)
			}
			var nsVar *corev1.EnvVar
			for i := range c.Env {
				if c.Env[i].Name == "REMEDIATOR_NAMESPACE" {
					nsVar = &c.Env[i]
				}
			}
			switch {
			case v.clusterWide && nsVar != nil:
				t.Errorf("cluster-wide sweep sets REMEDIATOR_NAMESPACE (%+v); it must scan every namespace", *nsVar)
			case !v.clusterWide && (nsVar == nil || nsVar.ValueFrom == nil || nsVar.ValueFrom.FieldRef == nil ||
				nsVar.ValueFrom.FieldRef.FieldPath != "metadata.namespace"):
				t.Errorf("namespaced sweep: REMEDIATOR_NAMESPACE = %+v, want the pod's own namespace (fieldRef metadata.namespace)", nsVar)
			}
		})
	}
}

// objectsOf returns the objects of the given kind.
func objectsOf(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// TestRetagReachesEveryImage: a user's `images:` on top of an overlay (the
// usual way to pin a release) rewrites every remediator image, the Sensor's
// Job included, not just those that happen to carry the overlay's tag.
func TestRetagReachesEveryImage(t *testing.T) {
	for _, overlay := range []variant{namespacedVariant, clusterWideVariant} {
		v := variant{name: overlay.name + "+retag", dir: "variants/retag-" + overlay.name,
			kustomization: "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
				"resources:\n  - ../../" + overlay.dir + "\n" +
				"images:\n  - name: " + image + "\n    newTag: retagged\n"}
		n := 0
		for _, o := range build(t, v) {
			for _, img := range images(o.Object) {
				if strings.HasPrefix(img, image) {
					n++
					if img != image+":retagged" {
						t.Errorf("%s: %s %s keeps image %q", v.name, o.GetKind(), o.GetName(), img)
					}
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no remediator image found", v.name)
		}
	}
}
