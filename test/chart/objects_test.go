package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// objects are the rendered objects, in order.
type objects []*unstructured.Unstructured

// decode splits a rendered manifest into objects.
func decode(manifest string) (objects, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(manifest)), 4096)
	var objs objects
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("decoding the rendered manifest: %w", err)
		}
		if m != nil {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

// all returns the objects of a kind.
func (objs objects) all(kind string) objects {
	var out objects
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// get returns the one object of kind, namespace and name, failing otherwise.
func (objs objects) get(t *testing.T, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	var found objects
	for _, o := range objs.all(kind) {
		if o.GetNamespace() == namespace && o.GetName() == name {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s %s/%s, found %d (have %s)", kind, namespace, name, len(found), objs)
	}
	return found[0]
}

// has tells whether an object of that kind and name exists.
func (objs objects) has(kind, name string) bool {
	for _, o := range objs.all(kind) {
		if o.GetName() == name {
			return true
		}
	}
	return false
}

func (objs objects) String() string {
	var s []string
	for _, o := range objs {
		s = append(s, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
	}
	return strings.Join(s, ", ")
}

// field returns the value at a dotted path ("spec.template.spec"; a number
// indexes a list), or nil.
func field(o *unstructured.Unstructured, path string) any {
	var cur any = o.Object
	for _, k := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[k]
		case []any:
			var i int
			if _, err := fmt.Sscanf(k, "%d", &i); err != nil || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// want fails the test when the value at path is not v (compared as text).
func want(t *testing.T, o *unstructured.Unstructured, path string, v any) {
	t.Helper()
	if got := field(o, path); fmt.Sprint(got) != fmt.Sprint(v) {
		t.Errorf("%s %s: %s = %v, want %v", o.GetKind(), o.GetName(), path, got, v)
	}
}
