package wfstatus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned/scheme"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
)

// Reader reads one Workflow straight from the API server (a list narrowed
// to its name: never a cache), returning nil when it does not exist, and the
// list's resourceVersion, where a watch resumes.
type Reader interface {
	Read(ctx context.Context, namespace, name string) (*Workflow, string, error)
}

// NewReader reads through the clientset's REST client, decoding the raw JSON
// into a Workflow. Fake clientsets have no REST client: for them the typed
// client is read and its objects are turned into JSON and decoded the same
// way, so tests over fakes run the same decoding.
func NewReader(argo versioned.Interface) Reader {
	if c, ok := argo.ArgoprojV1alpha1().RESTClient().(*rest.RESTClient); ok && c != nil {
		return restReader{c}
	}
	return typedReader{argo}
}

func byName(name string) *metav1.ListOptions {
	return &metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()}
}

type restReader struct{ c rest.Interface }

func (r restReader) Read(ctx context.Context, namespace, name string) (*Workflow, string, error) {
	body, err := r.c.Get().Namespace(namespace).Resource("workflows").
		VersionedParams(byName(name), scheme.ParameterCodec).Do(ctx).Raw()
	if err != nil {
		return nil, "", fmt.Errorf("reading workflow %s/%s: %w", namespace, name, err)
	}
	items, rv, err := DecodeList(body)
	if err != nil {
		return nil, "", fmt.Errorf("reading workflow %s/%s: %w", namespace, name, err)
	}
	return pick(items, name), rv, nil
}

type typedReader struct{ argo versioned.Interface }

func (r typedReader) Read(ctx context.Context, namespace, name string) (*Workflow, string, error) {
	list, err := r.argo.ArgoprojV1alpha1().Workflows(namespace).List(ctx, *byName(name))
	if err != nil {
		return nil, "", fmt.Errorf("reading workflow %s/%s: %w", namespace, name, err)
	}
	body, err := json.Marshal(list)
	if err != nil {
		return nil, "", fmt.Errorf("reading workflow %s/%s: %w", namespace, name, err)
	}
	items, _, err := DecodeList(body)
	if err != nil {
		return nil, "", fmt.Errorf("reading workflow %s/%s: %w", namespace, name, err)
	}
	return pick(items, name), list.ResourceVersion, nil
}

// pick returns the item of that name: fakes ignore field selectors.
func pick(items []*Workflow, name string) *Workflow {
	for _, w := range items {
		if w.Name == name {
			return w
		}
	}
	return nil
}
