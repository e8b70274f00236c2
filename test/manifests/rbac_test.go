package manifests

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// wantGrants is the complete list of what each ServiceAccount may do; any
// other permission, or a missing one, fails TestLeastPrivilege. scope is the
// install namespace, or clusterScope for what the cluster-wide overlay grants
// across namespaces.
func wantGrants(v variant) map[string][]string {
	spanning := v.namespace
	if v.clusterWide {
		spanning = clusterScope
	}
	lines := func(scope string, perms ...string) []string {
		var out []string
		for _, p := range perms {
			out = append(out, scope+" "+p)
		}
		return out
	}
	remediatorPerms := []string{
		"argoproj.io/workflows get", "argoproj.io/workflows list", "argoproj.io/workflows watch",
		"argoproj.io/workflowtaskresults get", "argoproj.io/workflowtaskresults list", "argoproj.io/workflowtaskresults watch",
		"argoproj.io/workflowtaskresults create", "argoproj.io/workflowtaskresults patch",
		"/pods get", "/pods list", "/pods watch",
		"/events create",
	}
	if v.nudge {
		remediatorPerms = append(remediatorPerms, "argoproj.io/workflows patch")
	}
	want := map[string][]string{
		remediator:      lines(spanning, remediatorPerms...),
		eventSourceName: lines(spanning, "/pods list", "/pods watch"),
		// The Sensor creates Jobs in its own namespace only, in every overlay.
		sensorName: lines(v.namespace, "batch/jobs create"),
	}
	for sa := range want {
		slices.Sort(want[sa])
	}
	return want
}

func TestLeastPrivilege(t *testing.T) {
	for _, v := range overlays {
		t.Run(v.name, func(t *testing.T) {
			got := grants(t, build(t, v), v.namespace)
			want := wantGrants(v)
			for sa := range got {
				if _, ok := want[sa]; !ok {
					t.Errorf("ServiceAccount %s has permissions nobody planned: %q", sa, got[sa])
				}
			}
			for sa, w := range want {
				for _, extra := range missing(w, got[sa]) {
					t.Errorf("%s may do more than it needs: %s", sa, extra)
				}
				for _, lack := range missing(got[sa], w) {
					t.Errorf("%s lacks a permission it needs: %s", sa, lack)
				}
			}
		})
	}
}

// missing returns the lines of b that are not in a.
func missing(a, b []string) []string {
	var out []string
	for _, l := range b {
		if !slices.Contains(a, l) {
			out = append(out, l)
		}
	}
	return out
}

func TestNoWildcardsInRBAC(t *testing.T) {
	for _, v := range allVariants {
		t.Run(v.name, func(t *testing.T) {
			n := 0
			for _, o := range build(t, v) {
				if o.GetKind() != "Role" && o.GetKind() != "ClusterRole" {
					continue
				}
				n++
				var r rbacv1.ClusterRole
				convert(t, o, &r)
				if r.AggregationRule != nil {
					t.Errorf("%s %s: aggregationRule would pull in rules from elsewhere", o.GetKind(), o.GetName())
				}
				for _, w := range wildcards(r.Rules) {
					t.Errorf("%s %s: wildcard in %s", o.GetKind(), o.GetName(), w)
				}
			}
			if n != 3 {
				t.Errorf("found %d roles, want 3 (remediator, EventSource, Sensor)", n)
			}
		})
	}
	if got := wildcards([]rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"pods"}, Verbs: []string{"get", "*"}}}); len(got) != 2 {
		t.Errorf("wildcards found %q in a rule with two, want both", got)
	}
}

// TestPatchOnWorkflowsOnlyWithNudge: the only write to Workflows is the
// opt-in nudge.
func TestPatchOnWorkflowsOnlyWithNudge(t *testing.T) {
	for _, v := range allVariants {
		t.Run(v.name, func(t *testing.T) {
			var writes []string
			for _, o := range build(t, v) {
				if o.GetKind() != "Role" && o.GetKind() != "ClusterRole" {
					continue
				}
				var r rbacv1.Role
				convert(t, o, &r)
				for _, p := range permissions(o.GetKind()+"/"+o.GetName(), r.Rules) {
					if strings.Contains(p, "argoproj.io/workflows ") && !strings.HasSuffix(p, " get") &&
						!strings.HasSuffix(p, " list") && !strings.HasSuffix(p, " watch") {
						writes = append(writes, p)
					}
				}
			}
			want := []string(nil)
			if v.nudge {
				kind := "Role"
				if v.clusterWide {
					kind = "ClusterRole"
				}
				want = []string{kind + "/" + remediator + " argoproj.io/workflows patch"}
			}
			if !slices.Equal(writes, want) {
				t.Errorf("writes to workflows = %q, want %q", writes, want)
			}
		})
	}
}

// TestRulesWrittenOnce: the cluster-wide overlay's ClusterRoles carry exactly
// the namespaced overlay's Role rules (they come from the same file; this
// catches a patch that would add or drop one on one side only).
func TestRulesWrittenOnce(t *testing.T) {
	pairs := []struct{ namespaced, clusterWide variant }{
		{namespacedVariant, clusterWideVariant},
		{namespacedNudge, clusterWideNudge},
	}
	for _, p := range pairs {
		nsObjs, cwObjs := build(t, p.namespaced), build(t, p.clusterWide)
		for name, cwKind := range map[string]string{remediator: "ClusterRole", eventSourceName: "ClusterRole", sensorName: "Role"} {
			var a, b rbacv1.Role
			convert(t, find(t, nsObjs, "Role", name), &a)
			convert(t, find(t, cwObjs, cwKind, name), &b)
			if !slices.EqualFunc(a.Rules, b.Rules, ruleEqual) {
				t.Errorf("%s: %s Role rules %+v differ from %s %s rules %+v", name, p.namespaced.name, a.Rules, p.clusterWide.name, cwKind, b.Rules)
			}
		}
	}
}

func ruleEqual(a, b rbacv1.PolicyRule) bool {
	return slices.Equal(a.APIGroups, b.APIGroups) && slices.Equal(a.Resources, b.Resources) && slices.Equal(a.Verbs, b.Verbs) &&
		slices.Equal(a.ResourceNames, b.ResourceNames) && slices.Equal(a.NonResourceURLs, b.NonResourceURLs)
}
