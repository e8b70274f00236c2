package manifests

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestResubmitComponentTurnsItOnInTheWatchOnly: components/resubmit on top
// of components/watch sets REMEDIATOR_RESUBMIT in the watch Deployment
// only and adds exactly create/patch on workflows and get on
// workflowtemplates; without it, neither.
func TestResubmitComponentTurnsItOnInTheWatchOnly(t *testing.T) {
	withWatch := watchOnTop("manifests/overlays/cluster-wide", "argo-oom-remediator", false)
	for _, c := range []struct {
		name, dir, kustomization string
		on                       bool
	}{
		{"watch", "variants/cluster-wide-watch-only", withWatch, false},
		{"watch+resubmit", "variants/cluster-wide-resubmit", strings.Replace(withWatch,
			"  - ../../manifests/components/monitoring\n", "  - ../../manifests/components/monitoring\n  - ../../manifests/components/resubmit\n", 1), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs := build(t, variant{name: c.name, dir: c.dir, namespace: "argo-oom-remediator", clusterWide: true, kustomization: c.kustomization})
			d := find(t, objs, "Deployment", "oom-remediator-watch")
			for _, p := range pods(t, []*unstructured.Unstructured{d}) {
				for _, ctr := range p.containers {
					on := slices.ContainsFunc(ctr.Env, func(e corev1.EnvVar) bool { return e.Name == "REMEDIATOR_RESUBMIT" && e.Value == "true" })
					if on != c.on {
						t.Errorf("REMEDIATOR_RESUBMIT=true in the watch: %v, want %v", on, c.on)
					}
				}
			}
			if cm := find(t, objs, "ConfigMap", "oom-remediator-config"); cm.Object["data"].(map[string]any)["REMEDIATOR_RESUBMIT"] != nil {
				t.Error("the ConfigMap shared with the Jobs sets REMEDIATOR_RESUBMIT: the Jobs would refuse it")
			}
			rules, _, _ := unstructured.NestedSlice(find(t, objs, "ClusterRole", remediator).Object, "rules")
			var got []string
			for _, r := range rules {
				r := r.(map[string]any)
				for _, res := range toStrings(r["resources"]) {
					if res == "workflows" || res == "workflowtemplates" {
						for _, v := range toStrings(r["verbs"]) {
							got = append(got, res+" "+v)
						}
					}
				}
			}
			slices.Sort(got)
			want := []string{"workflows get", "workflows list", "workflows watch"}
			if c.on {
				want = []string{"workflows create", "workflows get", "workflows list", "workflows patch", "workflows watch", "workflowtemplates get"}
			}
			if !slices.Equal(got, want) {
				t.Errorf("verbs %v, want %v", got, want)
			}
		})
	}
}
