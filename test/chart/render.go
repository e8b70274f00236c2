package chart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
)

// Path is the chart's directory relative to the repository root.
const Path = "charts/argo-oom-remediator"

// KubeVersion is the Kubernetes version renders and lint assume: the API
// server the tests run (hack/versions.env KUBERNETES_VERSION).
const KubeVersion = "v1.34.3"

// Dir returns the chart directory: <repository root>/charts/argo-oom-remediator,
// the root being the nearest ancestor of the working directory holding
// hack/versions.env. (test/support/cluster.RepoRoot does the same for the
// test module; this module cannot import it: Helm v4 brings k8s.io v0.36.)
func Dir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "versions.env")); err == nil {
			return filepath.Join(dir, filepath.FromSlash(Path)), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("chart: no hack/versions.env above the working directory; run from inside the repository")
		}
		dir = parent
	}
}

// Render renders the chart in dir as `helm template` does (no cluster),
// values validated against values.schema.json, and returns the manifest.
func Render(ctx context.Context, dir, namespace string, values map[string]any) (string, error) {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return "", fmt.Errorf("loading chart %s: %w", dir, err)
	}
	kv, err := common.ParseKubeVersion(KubeVersion)
	if err != nil {
		return "", err
	}
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.Replace = true
	install.ReleaseName = "argo-oom-remediator"
	install.Namespace = namespace
	install.KubeVersion = kv
	rel, err := install.RunWithContext(ctx, ch, values)
	if err != nil {
		return "", fmt.Errorf("rendering chart %s in namespace %s: %w", dir, namespace, err)
	}
	r, ok := rel.(*release.Release)
	if !ok {
		return "", fmt.Errorf("rendering chart %s: unexpected release type %T", dir, rel)
	}
	return r.Manifest, nil
}
