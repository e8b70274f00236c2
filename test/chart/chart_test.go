package chart

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"sigs.k8s.io/yaml"
)

// chartDir returns the repository's chart directory.
func chartDir(t *testing.T) string {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// valueCases are the values files of the render matrix (testdata/values),
// by name; the test module dry-runs the same files on its API server.
func valueCases(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, err := filepath.Glob("testdata/values/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no values files in testdata/values: %v", err)
	}
	cases := map[string]map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		values := map[string]any{}
		if err := yaml.Unmarshal(data, &values); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases[strings.TrimSuffix(filepath.Base(f), ".yaml")] = values
	}
	return cases
}

// TestLint runs `helm lint --strict` (Helm's linter, schema included) on the
// chart for every values file of the matrix.
func TestLint(t *testing.T) {
	kv, err := common.ParseKubeVersion(KubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range valueCases(t) {
		t.Run(name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = "argo"
			lint.KubeVersion = kv
			res := lint.Run([]string{chartDir(t)}, values)
			for _, m := range res.Messages {
				t.Log(m)
			}
			for _, err := range res.Errors {
				t.Errorf("helm lint: %v", err)
			}
			if res.TotalChartsLinted != 1 {
				t.Errorf("linted %d charts, want 1", res.TotalChartsLinted)
			}
		})
	}
}

// TestRender renders every values file and checks what the values chose.
func TestRender(t *testing.T) {
	for name, values := range valueCases(t) {
		t.Run(name, func(t *testing.T) {
			objs := render(t, "argo", values)
			check, ok := renderChecks[name]
			if !ok {
				t.Fatalf("no checks for values file %s.yaml: add them to renderChecks", name)
			}
			check(t, objs)
		})
	}
}

// render renders the chart in namespace with values and decodes the objects.
func render(t *testing.T, namespace string, values map[string]any) objects {
	t.Helper()
	manifest, err := Render(context.Background(), chartDir(t), namespace, values)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatal("the chart rendered no object")
	}
	return objs
}
