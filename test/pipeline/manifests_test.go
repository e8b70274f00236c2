package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	aev1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/yamldocs"
)

// The shipped manifests, from this package's directory.
const (
	repoRoot        = "../.."
	eventSourcesDir = repoRoot + "/eventsources"
	sensorsDir      = repoRoot + "/sensors"
	manifestsBase   = repoRoot + "/manifests/base"
)

// loadOne decodes the single document of path into out and sets its namespace.
func loadOne(path, namespace string, out interface{ SetNamespace(string) }) error {
	docs, err := yamldocs.ReadFile(path)
	if err != nil {
		return err
	}
	if len(docs) != 1 {
		return fmt.Errorf("%s: %d documents, want 1", path, len(docs))
	}
	if err := json.Unmarshal(docs[0], out); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	out.SetNamespace(namespace)
	return nil
}

func loadEventSource(file, namespace string) (*aev1.EventSource, error) {
	es := &aev1.EventSource{}
	return es, loadOne(filepath.Join(eventSourcesDir, file), namespace, es)
}

func loadSensor(file, namespace string) (*aev1.Sensor, error) {
	s := &aev1.Sensor{}
	return s, loadOne(filepath.Join(sensorsDir, file), namespace, s)
}

// applyBase creates, in namespace, the ServiceAccounts, Roles, RoleBindings
// and ConfigMap of manifests/base (the files that hold them), with
// changeConfig applied to the ConfigMap data first.
func applyBase(ctx context.Context, kube kubernetes.Interface, namespace string, changeConfig func(map[string]string)) error {
	files := []string{"serviceaccounts.yaml", "rbac-eventsource.yaml", "rbac-sensor.yaml", "rbac-remediator.yaml", "configmap.yaml"}
	for _, file := range files {
		docs, err := yamldocs.ReadFile(filepath.Join(manifestsBase, file))
		if err != nil {
			return err
		}
		for _, doc := range docs {
			if err := applyDoc(ctx, kube, namespace, doc, changeConfig); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
		}
	}
	return nil
}

func applyDoc(ctx context.Context, kube kubernetes.Interface, ns string, doc json.RawMessage, changeConfig func(map[string]string)) error {
	var meta metav1.TypeMeta
	if err := json.Unmarshal(doc, &meta); err != nil {
		return err
	}
	opts := metav1.CreateOptions{}
	switch meta.Kind {
	case "ServiceAccount":
		var o corev1.ServiceAccount
		if err := json.Unmarshal(doc, &o); err != nil {
			return err
		}
		o.Namespace = ns
		_, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &o, opts)
		return err
	case "Role":
		var o rbacv1.Role
		if err := json.Unmarshal(doc, &o); err != nil {
			return err
		}
		o.Namespace = ns
		_, err := kube.RbacV1().Roles(ns).Create(ctx, &o, opts)
		return err
	case "RoleBinding":
		var o rbacv1.RoleBinding
		if err := json.Unmarshal(doc, &o); err != nil {
			return err
		}
		o.Namespace = ns
		for i := range o.Subjects {
			o.Subjects[i].Namespace = ns // kustomize's namespace transformer does this
		}
		_, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &o, opts)
		return err
	case "ConfigMap":
		var o corev1.ConfigMap
		if err := json.Unmarshal(doc, &o); err != nil {
			return err
		}
		o.Namespace = ns
		changeConfig(o.Data)
		_, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &o, opts)
		return err
	default:
		return fmt.Errorf("unexpected kind %q", meta.Kind)
	}
}
