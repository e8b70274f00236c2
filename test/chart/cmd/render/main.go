// Command render prints the chart charts/argo-oom-remediator rendered as
// `helm template` would, with Helm's Go SDK: the test module (which cannot
// import Helm v4) runs it to dry-run the chart on its API server and to
// compare it with the kustomize overlays.
//
//	go -C test/chart run ./cmd/render -namespace argo [-values file.yaml]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/chart"
)

func main() {
	namespace := flag.String("namespace", "argo", "release namespace")
	valuesFile := flag.String("values", "", "values file (YAML); empty: the chart's defaults")
	dir := flag.String("chart", "", "chart directory; empty: the repository's")
	flag.Parse()
	if err := run(*dir, *namespace, *valuesFile); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(dir, namespace, valuesFile string) error {
	if dir == "" {
		d, err := chart.Dir()
		if err != nil {
			return err
		}
		dir = d
	}
	values := map[string]any{}
	if valuesFile != "" {
		data, err := os.ReadFile(valuesFile)
		if err != nil {
			return err
		}
		if err := yaml.Unmarshal(data, &values); err != nil {
			return fmt.Errorf("values %s: %w", valuesFile, err)
		}
	}
	manifest, err := chart.Render(context.Background(), dir, namespace, values)
	if err != nil {
		return err
	}
	_, err = fmt.Print(manifest)
	return err
}
