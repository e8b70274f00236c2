package manifests

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// clusterScope is the scope of a grant through a ClusterRoleBinding.
const clusterScope = "*cluster*"

// grants returns, per ServiceAccount name, what the bindings in objs allow it
// to do, as sorted "scope group/resource verb" lines (scope is a namespace or
// clusterScope). Every binding must point at a role in objs and every subject
// must be a ServiceAccount of ns defined in objs.
func grants(t testing.TB, objs []*unstructured.Unstructured, ns string) map[string][]string {
	t.Helper()
	roles := map[string][]rbacv1.PolicyRule{} // "Kind/namespace/name"
	for _, o := range objs {
		switch o.GetKind() {
		case "Role", "ClusterRole":
			var r rbacv1.Role
			convert(t, o, &r)
			roles[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = r.Rules
		}
	}
	out := map[string][]string{}
	for _, o := range objs {
		var b rbacv1.RoleBinding
		scope := o.GetNamespace()
		switch o.GetKind() {
		case "RoleBinding":
		case "ClusterRoleBinding":
			scope = clusterScope
		default:
			continue
		}
		convert(t, o, &b)
		roleNS := o.GetNamespace()
		if b.RoleRef.Kind == "ClusterRole" {
			roleNS = ""
		}
		rules, ok := roles[b.RoleRef.Kind+"/"+roleNS+"/"+b.RoleRef.Name]
		if !ok {
			t.Errorf("%s %s refers to %s %s, which is not in the output", o.GetKind(), o.GetName(), b.RoleRef.Kind, b.RoleRef.Name)
		}
		for _, s := range b.Subjects {
			if s.Kind != rbacv1.ServiceAccountKind || s.Namespace != ns || !has(objs, "ServiceAccount", s.Name) {
				t.Errorf("%s %s: subject %s %s/%s is not a ServiceAccount of this install (namespace %q)", o.GetKind(), o.GetName(), s.Kind, s.Namespace, s.Name, ns)
				continue
			}
			out[s.Name] = append(out[s.Name], permissions(scope, rules)...)
		}
	}
	for sa := range out {
		slices.Sort(out[sa])
		out[sa] = slices.Compact(out[sa])
	}
	return out
}

// permissions expands rules into "scope group/resource verb" lines.
func permissions(scope string, rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					line := fmt.Sprintf("%s %s/%s %s", scope, g, res, v)
					if len(r.ResourceNames) > 0 {
						line += " names=" + strings.Join(r.ResourceNames, ",")
					}
					out = append(out, line)
				}
			}
		}
	}
	return out
}

// wildcards lists the "*" found in rules.
func wildcards(rules []rbacv1.PolicyRule) []string {
	var out []string
	for i, r := range rules {
		for field, values := range map[string][]string{
			"apiGroups": r.APIGroups, "resources": r.Resources, "verbs": r.Verbs,
			"resourceNames": r.ResourceNames, "nonResourceURLs": r.NonResourceURLs,
		} {
			for _, v := range values {
				if strings.Contains(v, "*") {
					out = append(out, fmt.Sprintf("rules[%d].%s: %q", i, field, v))
				}
			}
		}
	}
	return out
}
