package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

func TestCluster(t *testing.T) {
	c := cluster.Start(t)
	ctx := context.Background()

	t.Run("CRDsServed", func(t *testing.T) {
		list, err := c.Kube.Discovery().ServerResourcesForGroupVersion("argoproj.io/v1alpha1")
		if err != nil {
			t.Fatal(err)
		}
		served := map[string]bool{}
		for _, r := range list.APIResources {
			served[r.Name] = true
		}
		for _, want := range []string{"workflows", "workflowtaskresults", "workflowtemplates", "eventsources", "sensors"} {
			if !served[want] {
				t.Errorf("argoproj.io/v1alpha1 %s not served", want)
			}
		}
	})

	t.Run("CreateWorkflowTaskResult", func(t *testing.T) {
		ns := c.NewNamespace(t)
		phase := wfv1.NodeSucceeded
		tr := &wfv1.WorkflowTaskResult{
			ObjectMeta: metav1.ObjectMeta{Name: "wf-1234", Labels: map[string]string{"workflows.argoproj.io/workflow": "wf"}},
			NodeResult: wfv1.NodeResult{Phase: phase, Message: "done"},
		}
		got, err := c.Argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).Create(ctx, tr, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Phase != phase || got.UID == "" {
			t.Errorf("stored task result = %+v", got.NodeResult)
		}
	})

	t.Run("RBACEnforcedForServiceAccount", func(t *testing.T) {
		ns := c.NewNamespace(t)
		sa := kubernetes.NewForConfigOrDie(c.ServiceAccountConfigT(t, ns, "nobody"))

		_, err := sa.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("listing pods as a ServiceAccount without RBAC: got %v, want Forbidden", err)
		}
		if want := "system:serviceaccount:" + ns + ":nobody"; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}

		// Granting the permission makes the same call succeed.
		role := &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}},
		}
		binding := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "nobody-reads-pods"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "nobody"}},
		}
		if _, err := c.Kube.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Kube.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// RBAC caches refresh asynchronously: poll with a deadline.
		err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := sa.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("listing pods after binding a Role: %v", err)
		}
	})
}
