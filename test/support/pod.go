package support

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReadPod reads a captured pod (e.g. test/events/testdata/pods/...) as a
// template to create copies of: of its metadata only the labels,
// annotations and owner references are kept, the rest being what the API
// server sets itself; spec and status are as captured.
func ReadPod(tb testing.TB, path string) *corev1.Pod {
	tb.Helper()
	data, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		tb.Fatal(err)
	}
	p := &corev1.Pod{}
	if err := json.Unmarshal(data, p); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	p.ObjectMeta = metav1.ObjectMeta{Labels: p.Labels, Annotations: p.Annotations, OwnerReferences: p.OwnerReferences}
	return p
}
