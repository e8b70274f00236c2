package manifests

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// Names shared by the manifests and the tests.
const (
	image           = "ghcr.io/argo-oom-remediator/remediator"
	remediator      = "oom-remediator"
	eventSourceName = "oom-remediator-eventsource"
	sensorName      = "oom-remediator-sensor"
	configMapName   = "oom-remediator-config"
	sweepName       = "oom-remediator-sweep"
	templateName    = "oom-remediator"
	// podsName is the workflow pod watcher's Deployment and Service.
	podsName = "oom-remediator-pods"
)

// Directories copied from the repository into the in-memory file system that
// kustomize builds from.
var copiedDirs = []string{"manifests", "eventsources", "sensors"}

// memRoot is where the repository is copied in memory.
const memRoot = "/repo"

// variant is something that can be built: a kustomization of the repository,
// or one written for the test on top of it.
type variant struct {
	name string
	// dir is the kustomization directory relative to the repository root.
	dir string
	// kustomization, when set, is written to dir first (a test-only
	// kustomization combining an overlay and components).
	kustomization string
	// namespace is the install namespace the output must use ("" for base).
	namespace string
	// clusterWide tells whether the remediator and EventSource rules must be
	// ClusterRoles.
	clusterWide bool
	// nudge tells whether the nudge component is included.
	nudge bool
	// installs tells whether the variant is a full install (an overlay).
	installs bool
}

var (
	baseVariant        = variant{name: "base", dir: "manifests/base"}
	namespacedVariant  = variant{name: "namespaced", dir: "manifests/overlays/namespaced", namespace: "argo", installs: true}
	clusterWideVariant = variant{name: "cluster-wide", dir: "manifests/overlays/cluster-wide", namespace: "argo-oom-remediator", clusterWide: true, installs: true}
	namespacedNudge    = variant{
		name: "namespaced+nudge", dir: "variants/namespaced-nudge", namespace: "argo", nudge: true, installs: true,
		kustomization: onTop("manifests/overlays/namespaced"),
	}
	clusterWideNudge = variant{
		name: "cluster-wide+nudge", dir: "variants/cluster-wide-nudge", namespace: "argo-oom-remediator", clusterWide: true, nudge: true, installs: true,
		kustomization: onTop("manifests/overlays/cluster-wide"),
	}
)

// overlays are the full installs, with and without the nudge component, and
// as a user's kustomization moving them to another namespace (userVariants).
var overlays = append([]variant{namespacedVariant, clusterWideVariant, namespacedNudge, clusterWideNudge}, userVariants...)

// allVariants adds the base.
var allVariants = append([]variant{baseVariant}, overlays...)

// onTop is how a user adds the nudge component to an overlay: their own
// kustomization with the overlay as resource.
func onTop(overlay string) string {
	return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
		"resources:\n  - ../../" + overlay + "\n" +
		"components:\n  - ../../manifests/components/nudge\n"
}

// repoRoot is the repository root (test/support/cluster knows how to find it).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// memFS copies the directories kustomize needs into memory, so that test-only
// kustomizations never touch the working tree.
func memFS(t testing.TB) filesys.FileSystem {
	t.Helper()
	root := repoRoot(t)
	mem := filesys.MakeFsInMemory()
	for _, dir := range copiedDirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			target := filepath.ToSlash(filepath.Join(memRoot, rel))
			if d.IsDir() {
				return mem.MkdirAll(target)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return mem.WriteFile(target, data)
		})
		if errors.Is(err, fs.ErrNotExist) {
			t.Logf("%s/ does not exist in %s (yet); overlays including it cannot build", dir, root)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return mem
}

// build runs kustomize (krusty, as `kubectl apply -k` does) on v and returns
// the objects.
func build(t testing.TB, v variant) []*unstructured.Unstructured {
	t.Helper()
	objs, err := tryBuild(memFS(t), v)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", v.dir, err)
	}
	return objs
}

func tryBuild(mem filesys.FileSystem, v variant) ([]*unstructured.Unstructured, error) {
	dir := memRoot + "/" + v.dir
	if v.kustomization != "" {
		if err := mem.MkdirAll(dir); err != nil {
			return nil, err
		}
		if err := mem.WriteFile(dir+"/kustomization.yaml", []byte(v.kustomization)); err != nil {
			return nil, err
		}
	}
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, dir)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, r := range rm.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{} // JSON numbers become int64, as client-go expects
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		objs = append(objs, u)
	}
	return objs, nil
}

// find returns the object of that kind and name, failing the test if there
// is not exactly one.
func find(t testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s %q in the output, found %d (have: %s)", kind, name, len(found), ids(objs))
	}
	return found[0]
}

// has tells whether objs hold an object of that kind and name.
func has(objs []*unstructured.Unstructured, kind, name string) bool {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return true
		}
	}
	return false
}

func ids(objs []*unstructured.Unstructured) string {
	var s []string
	for _, o := range objs {
		s = append(s, o.GetKind()+"/"+o.GetName())
	}
	return strings.Join(s, ", ")
}

// convert turns u into a typed object, rejecting unknown fields so that a
// misspelt field fails here rather than being dropped silently.
func convert(t testing.TB, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}
