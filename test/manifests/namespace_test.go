package manifests

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// userOverlay is what a user writes to install an overlay into a namespace of
// their choice: `namespace:` over our overlay as a (here local, in practice
// remote `?ref=`) base, nothing else.
func userOverlay(namespace, overlay string) string {
	return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
		"namespace: " + namespace + "\n" +
		"resources:\n  - ../../" + overlay + "\n"
}

// userVariants move each overlay to a namespace the overlays never name. They
// run through every check of the overlays (namespaces, sink, EventSource
// scope, RBAC grants, API server dry run and access reviews).
var userVariants = []variant{
	{name: "user-namespace-over-namespaced", dir: "variants/user-team-x", namespace: "team-x", installs: true,
		kustomization: userOverlay("team-x", "manifests/overlays/namespaced")},
	{name: "user-namespace-over-cluster-wide", dir: "variants/user-platform", namespace: "platform-ops", clusterWide: true, installs: true,
		kustomization: userOverlay("platform-ops", "manifests/overlays/cluster-wide") + clusterWorkflowTemplateHasNoNamespace},
}

// clusterWorkflowTemplateHasNoNamespace is what a user's kustomization with
// `namespace:` over the cluster-wide overlay must add (docs/install.md):
// kustomize does not know that ClusterWorkflowTemplate is cluster-scoped, and
// a transformer of our overlay cannot undo what the user's `namespace:` does
// after it.
const clusterWorkflowTemplateHasNoNamespace = `transformers:
  - |-
    apiVersion: builtin
    kind: PatchTransformer
    metadata:
      name: clusterworkflowtemplate-has-no-namespace
    target:
      group: argoproj.io
      kind: ClusterWorkflowTemplate
    patch: |-
      - op: remove
        path: /metadata/namespace
`

// namespaceListVariant is the kustomize form of a namespace list: one
// namespaced install per namespace, each a user kustomization as above, and
// a parent listing them.
var namespaceListVariant = variant{name: "user-namespace-list", dir: "variants/user-list",
	kustomization: "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
		"resources:\n  - team-a\n  - team-b\n"}

// namespaceList are the namespaces of namespaceListVariant.
var namespaceList = []string{"team-a", "team-b"}

// buildNamespaceList writes the per-namespace kustomizations of
// namespaceListVariant and builds it.
func buildNamespaceList(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	mem := memFS(t)
	for _, ns := range namespaceList {
		dir := memRoot + "/" + namespaceListVariant.dir + "/" + ns
		if err := mem.MkdirAll(dir); err != nil {
			t.Fatal(err)
		}
		k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
			"namespace: " + ns + "\nresources:\n  - ../../../manifests/overlays/namespaced\n"
		if err := mem.WriteFile(dir+"/kustomization.yaml", []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := tryBuild(mem, namespaceListVariant)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", namespaceListVariant.dir, err)
	}
	return objs
}

// TestEveryNamespaceFollows: in every overlay, and in a user's kustomization
// that only sets `namespace:` over one, no field anywhere names another
// namespace than the install's: metadata, RoleBinding subjects, the Job the
// Sensor creates; and in a list of namespaced installs each pod watcher
// watches, and each EventSource dials, its own namespace. A field named
// namespace is the install namespace, empty (the object's own, or every
// namespace for a cluster-wide watch) or an Argo template expression.
func TestEveryNamespaceFollows(t *testing.T) {
	for _, v := range overlays {
		t.Run(v.name, func(t *testing.T) {
			for _, o := range build(t, v) {
				checkNamespaces(t, o, v.namespace)
			}
		})
	}
	t.Run(namespaceListVariant.name, func(t *testing.T) {
		perNamespace, watchers := map[string]int{}, map[string]int{}
		for _, o := range buildNamespaceList(t) {
			checkNamespaces(t, o, o.GetNamespace())
			perNamespace[o.GetNamespace()]++
			// Each namespace's watcher watches its own namespace: the
			// downward API gives it the namespace its pod runs in.
			if o.GetKind() == "Deployment" && o.GetName() == podsName {
				if e := watcherNamespaceEnv(t, o); !ownNamespace(e) {
					t.Errorf("Deployment %s/%s: REMEDIATOR_NAMESPACE = %+v, want its own namespace (fieldRef metadata.namespace)", o.GetNamespace(), podsName, e)
				}
				watchers[o.GetNamespace()]++
			}
			// Each namespace's EventSource dials its own namespace's watcher
			// (a short name, resolved in the EventSource pod's namespace).
			if o.GetKind() == "EventSource" && o.GetName() == "workflow-pods" {
				if url := str(t, o, "spec", "generic", "workflow-pods", "url"); url != podsName+":9000" {
					t.Errorf("EventSource %s/workflow-pods dials %q, want the short name %s:9000", o.GetNamespace(), url, podsName)
				}
			}
		}
		single := len(build(t, namespacedVariant))
		for _, ns := range namespaceList {
			if watchers[ns] != 1 {
				t.Errorf("namespace %s has %d pod watchers, want 1", ns, watchers[ns])
			}
			if perNamespace[ns] != single {
				t.Errorf("namespace %s has %d objects, want the namespaced overlay's %d", ns, perNamespace[ns], single)
			}
		}
		if len(perNamespace) != len(namespaceList) {
			t.Errorf("objects in namespaces %v, want only %v", perNamespace, namespaceList)
		}
	})
}

// checkNamespaces walks o and reports every `namespace` field whose value is
// neither want, nor empty, nor an Argo expression ({{...}}).
func checkNamespaces(t *testing.T, o *unstructured.Unstructured, want string) {
	t.Helper()
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && k == "namespace" && s != "" && s != want && !strings.HasPrefix(s, "{{") {
					t.Errorf("%s %s: %s.namespace = %q, want %q", o.GetKind(), o.GetName(), path, s, want)
				}
				walk(path+"."+k, c)
			}
		case []any:
			for _, c := range v {
				walk(path+"[]", c)
			}
		}
	}
	walk("", o.Object)
}
