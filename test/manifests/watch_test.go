package manifests

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// watchOnTop adds components/watch and components/monitoring to an overlay,
// as docs/operate.md says: with the install's namespace (the overlay's does
// not reach what the components add on top); namespaced installs copy
// namespace-patch.yaml.
func watchOnTop(overlay, namespace string, namespaced bool) string {
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: " + namespace + "\n" +
		"resources:\n  - ../../" + overlay + "\n" +
		"components:\n  - ../../manifests/components/watch\n  - ../../manifests/components/monitoring\n"
	if namespaced {
		k += `patches:
  - patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: oom-remediator-watch
      spec:
        template:
          spec:
            containers:
              - name: remediator
                env:
                  - name: REMEDIATOR_NAMESPACE
                    valueFrom:
                      fieldRef:
                        fieldPath: metadata.namespace
`
	}
	return k
}

func TestWatchComponentReplacesTheSweepCronJob(t *testing.T) {
	for _, v := range []variant{
		{name: "namespaced+watch", dir: "variants/namespaced-watch", namespace: "argo", kustomization: watchOnTop("manifests/overlays/namespaced", "argo", true)},
		{name: "cluster-wide+watch", dir: "variants/cluster-wide-watch", namespace: "argo-oom-remediator", clusterWide: true,
			kustomization: watchOnTop("manifests/overlays/cluster-wide", "argo-oom-remediator", false)},
	} {
		t.Run(v.name, func(t *testing.T) {
			objs := build(t, v)
			if has(objs, "CronJob", sweepName) {
				t.Error("the sweep CronJob is still there")
			}
			d := find(t, objs, "Deployment", "oom-remediator-watch")
			for _, kind := range []string{"Service", "ServiceMonitor"} {
				if o := find(t, objs, kind, "oom-remediator-watch"); o.GetNamespace() != v.namespace {
					t.Errorf("%s in namespace %q, want %q", kind, o.GetNamespace(), v.namespace)
				}
			}
			find(t, objs, "PrometheusRule", "oom-remediator")
			if cm := find(t, objs, "ConfigMap", "oom-remediator-dashboard"); cm.GetLabels()["grafana_dashboard"] != "1" {
				t.Error("the dashboard ConfigMap lacks the grafana_dashboard label")
			}
			for _, p := range pods(t, []*unstructured.Unstructured{d}) {
				for _, c := range p.containers {
					if !slices.Equal(c.Args, []string{"watch"}) || len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9090 {
						t.Errorf("container %s: args %v, ports %v", c.Name, c.Args, c.Ports)
					}
					for _, problem := range append(hardeningProblems(effectiveSecurity(p, c)), boundsProblems(c.Resources)...) {
						t.Errorf("%s container %s: %s", p.owner, c.Name, problem)
					}
					scoped := slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "REMEDIATOR_NAMESPACE" })
					if scoped == v.clusterWide {
						t.Errorf("REMEDIATOR_NAMESPACE set: %v, want %v", scoped, !v.clusterWide)
					}
				}
			}
			kind := "Role"
			if v.clusterWide {
				kind = "ClusterRole"
			}
			rules, _, _ := unstructured.NestedSlice(find(t, objs, kind, remediator).Object, "rules")
			var events []string
			for _, r := range rules {
				r := r.(map[string]any)
				if strings.Contains(strings.Join(toStrings(r["resources"]), ","), "events") {
					events = append(events, toStrings(r["verbs"])...)
				}
			}
			slices.Sort(events)
			if !slices.Equal(events, []string{"create", "list", "watch"}) {
				t.Errorf("verbs on events %v, want create, list, watch", events)
			}
		})
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
