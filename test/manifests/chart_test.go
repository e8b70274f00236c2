package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The Helm chart (charts/argo-oom-remediator) is rendered by the chart test
// module's cmd/render (Helm's Go SDK; a module of its own because Helm v4
// needs newer k8s.io modules than this one), built once into bin/.
var chartRenderer struct {
	once sync.Once
	path string
	err  error
}

// chartValues lists the values files of the chart's render matrix
// (test/chart/testdata/values), by name.
func chartValues(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "test", "chart", "testdata", "values", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no values files in test/chart/testdata/values: %v", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	return names
}

// renderChart renders the chart with the named values file, released in
// namespace.
func renderChart(t *testing.T, values, namespace string) []*unstructured.Unstructured {
	t.Helper()
	root := repoRoot(t)
	chartRenderer.once.Do(func() {
		chartRenderer.path = filepath.Join(root, "bin", "chart-render")
		cmd := exec.Command("go", "build", "-o", chartRenderer.path, "./cmd/render")
		cmd.Dir = filepath.Join(root, "test", "chart")
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			chartRenderer.err = fmt.Errorf("building test/chart/cmd/render: %w\n%s", err, out)
		}
	})
	if chartRenderer.err != nil {
		t.Fatal(chartRenderer.err)
	}
	cmd := exec.Command(chartRenderer.path, "-namespace", namespace,
		"-values", filepath.Join(root, "test", "chart", "testdata", "values", values+".yaml"))
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rendering the chart with %s.yaml: %v: %s", values, err, stderr.String())
	}
	objs, err := decodeYAML(out)
	if err != nil {
		t.Fatalf("the chart rendered with %s.yaml: %v", values, err)
	}
	return objs
}

// decodeYAML decodes a multi-document YAML stream.
func decodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, err
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// helmLabels are the labels the chart adds to every object and kustomize
// does not: the only difference allowed between the two.
var helmLabels = []string{"app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "helm.sh/chart"}

// TestChartMatchesOverlay: with its default values the chart renders the
// very objects of the namespaced overlay (but Helm's own labels), and with
// the cluster scope and its own EventBus those of the cluster-wide overlay
// (but the Namespace, which Helm leaves to --create-namespace). The chart
// reads the same files (charts/argo-oom-remediator/files links to them); this
// keeps what each adds on top equal.
func TestChartMatchesOverlay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the chart renderer (Helm SDK); run without -short")
	}
	for _, tt := range []struct {
		values string
		v      variant
	}{
		{"default", namespacedVariant},
		{"overlay-cluster-wide", clusterWideVariant},
		{"overlay-cluster-wide-resubmit", clusterWideResubmit},
	} {
		t.Run(tt.values+"="+tt.v.name, func(t *testing.T) {
			chart := normalized(t, renderChart(t, tt.values, tt.v.namespace))
			overlay := normalized(t, build(t, tt.v))
			delete(overlay, "Namespace//"+tt.v.namespace)
			for _, id := range keys(overlay, chart) {
				a, b := overlay[id], chart[id]
				switch {
				case a == nil:
					t.Errorf("%s: rendered by the chart only", id)
				case b == nil:
					t.Errorf("%s: built by the overlay only", id)
				case !reflect.DeepEqual(a, b):
					ja, _ := json.MarshalIndent(a, "", " ")
					jb, _ := json.MarshalIndent(b, "", " ")
					t.Errorf("%s differs:\noverlay: %s\nchart:   %s", id, ja, jb)
				}
			}
			t.Logf("%d objects compared", len(overlay))
		})
	}
}

// clusterWideResubmit is the cluster-wide overlay with components/watch and
// components/resubmit on top. The overlay's namespace and image tag do not
// reach what the components add, so the top kustomization sets them on the
// watch's objects alone (a namespace: here would also namespace the
// ClusterWorkflowTemplate).
var clusterWideResubmit = variant{name: "cluster-wide+watch+resubmit", dir: "variants/cluster-wide-watch-resubmit",
	namespace: "argo-oom-remediator", clusterWide: true, kustomization: `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../manifests/overlays/cluster-wide
components:
  - ../../manifests/components/watch
  - ../../manifests/components/resubmit
images:
  - name: ghcr.io/argo-oom-remediator/remediator
    newTag: v0.1.0
patches:
  - target: {name: oom-remediator-watch}
    patch: '[{"op": "add", "path": "/metadata/namespace", "value": "argo-oom-remediator"}]'
`}

// normalized keys objects by kind/namespace/name, without Helm's labels,
// numbers as JSON numbers.
func normalized(t *testing.T, objs []*unstructured.Unstructured) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, o := range objs {
		o = o.DeepCopy()
		labels := o.GetLabels()
		for _, l := range helmLabels {
			delete(labels, l)
		}
		o.SetLabels(labels)
		data, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		id := o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
		if _, dup := out[id]; dup {
			t.Errorf("%s twice", id)
		}
		out[id] = v
	}
	return out
}

func keys(ms ...map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
