package manifests

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// TestAPIServerAcceptsOverlays applies the output of every overlay to a real
// kube-apiserver with the Argo Workflows and Argo Events CRDs, as a
// server-side dry run with strict field validation, so that schema errors,
// unknown fields and wrong scopes surface. Then it applies the two overlays
// for real and asks the API server's RBAC authorizer what each
// ServiceAccount may do.
func TestAPIServerAcceptsOverlays(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver and etcd; run without -short")
	}
	c := cluster.Start(t)
	a := applier{t: t, c: c, dyn: dynamic.NewForConfigOrDie(c.Config),
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Kube.Discovery()))}

	for _, v := range append(append([]variant{}, overlays...), webhookAuthVariants...) {
		t.Run("dry-run/"+v.name, func(t *testing.T) {
			a.t = t
			a.ensureNamespace(v.namespace)
			for _, o := range namespacesFirst(build(t, v)) {
				a.apply(o, true)
			}
		})
	}
	t.Run("dry-run/"+namespaceListVariant.name, func(t *testing.T) {
		a.t = t
		for _, ns := range namespaceList {
			a.ensureNamespace(ns)
		}
		for _, o := range buildNamespaceList(t) {
			a.apply(o, true)
		}
	})
	// The Helm chart, rendered for every values file of its matrix, each in
	// a namespace of its own (and the namespaces it lists).
	for _, values := range chartValues(t) {
		t.Run("dry-run/chart-"+values, func(t *testing.T) {
			a.t = t
			objs := renderChart(t, values, "chart-"+values)
			for _, o := range objs {
				if o.GetNamespace() != "" {
					a.ensureNamespace(o.GetNamespace())
				}
			}
			for _, o := range objs {
				a.apply(o, true)
			}
		})
	}
	for _, v := range append([]variant{namespacedVariant, clusterWideVariant}, userVariants...) {
		t.Run("rbac/"+v.name, func(t *testing.T) {
			a.t = t
			a.ensureNamespace(v.namespace)
			for _, o := range namespacesFirst(build(t, v)) {
				a.apply(o, false)
			}
			a.checkAccess(v)
		})
	}
}

type applier struct {
	t      *testing.T
	c      *cluster.Cluster
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

func (a applier) ensureNamespace(name string) {
	a.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := a.c.Kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		a.t.Fatal(err)
	}
}

// apply server-side applies o, as a dry run if dryRun.
func (a applier) apply(o *unstructured.Unstructured, dryRun bool) {
	a.t.Helper()
	gvk := o.GroupVersionKind()
	mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		a.t.Errorf("%s %s: the API server does not serve it: %v", gvk, o.GetName(), err)
		return
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(mapping.Resource)
	namespaced := mapping.Scope.Name() == meta.RESTScopeNameNamespace
	switch {
	case namespaced && o.GetNamespace() == "":
		a.t.Errorf("%s %s is namespaced but has no namespace", gvk.Kind, o.GetName())
		return
	case !namespaced && o.GetNamespace() != "":
		a.t.Errorf("%s %s is cluster-scoped but has namespace %q", gvk.Kind, o.GetName(), o.GetNamespace())
		return
	case namespaced:
		ri = a.dyn.Resource(mapping.Resource).Namespace(o.GetNamespace())
	}
	data, err := json.Marshal(o.Object)
	if err != nil {
		a.t.Fatal(err)
	}
	opts := metav1.PatchOptions{FieldManager: "manifests-test", Force: ptr.To(true), FieldValidation: metav1.FieldValidationStrict}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if _, err := ri.Patch(context.Background(), o.GetName(), types.ApplyPatchType, data, opts); err != nil {
		a.t.Errorf("applying %s %s/%s (dry run %v): %v", gvk.Kind, o.GetNamespace(), o.GetName(), dryRun, err)
	}
}

// namespacesFirst orders objs so that Namespaces are applied before what
// goes in them.
func namespacesFirst(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].GetKind() == "Namespace" && out[j].GetKind() != "Namespace" })
	return out
}

// checkAccess asks the RBAC authorizer about each ServiceAccount: everything
// in wantGrants must be allowed, in its scope; a sample of what must not be,
// denied.
func (a applier) checkAccess(v variant) {
	a.t.Helper()
	const elsewhere = "some-team"
	for sa, lines := range wantGrants(v) {
		for _, line := range lines {
			scope, perm, _ := strings.Cut(line, " ")
			ns := scope
			if scope == clusterScope {
				ns = elsewhere // a namespace the install does not live in
			}
			a.expect(v.namespace, sa, ns, perm, true)
		}
	}
	denied := []struct{ sa, ns, perm string }{
		{remediator, v.namespace, "argoproj.io/workflows patch"},  // only with components/nudge
		{remediator, v.namespace, "argoproj.io/workflows update"}, // never
		{remediator, v.namespace, "argoproj.io/workflowtaskresults delete"},
		{remediator, v.namespace, "/pods delete"},
		{remediator, v.namespace, "/secrets get"},
		{eventSourceName, v.namespace, "/pods get"},
		{sensorName, v.namespace, "batch/jobs delete"},
		{sensorName, elsewhere, "batch/jobs create"}, // Jobs only in its own namespace
	}
	if !v.clusterWide {
		denied = append(denied,
			struct{ sa, ns, perm string }{remediator, elsewhere, "argoproj.io/workflows list"},
			struct{ sa, ns, perm string }{eventSourceName, elsewhere, "/pods watch"})
	}
	for _, d := range denied {
		a.expect(v.namespace, d.sa, d.ns, d.perm, false)
	}
}

// expect checks with a SubjectAccessReview whether ServiceAccount saNS/sa may
// do perm ("group/resource verb") in namespace ns.
func (a applier) expect(saNS, sa, ns, perm string, allowed bool) {
	a.t.Helper()
	gr, verb, _ := strings.Cut(perm, " ")
	group, resource, _ := strings.Cut(gr, "/")
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               "system:serviceaccount:" + saNS + ":" + sa,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + saNS, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Group: group, Resource: resource, Verb: verb},
	}}
	got, err := a.c.Kube.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), review, metav1.CreateOptions{})
	if err != nil {
		a.t.Fatal(err)
	}
	if got.Status.Allowed != allowed {
		a.t.Errorf("%s: %s in namespace %s: allowed %v, want %v (%s)", sa, perm, ns, got.Status.Allowed, allowed, got.Status.Reason)
	}
}
