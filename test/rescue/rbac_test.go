package rescue

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/yamldocs"
)

// remediatorIdentity creates, in ns, the ServiceAccount oom-remediator bound
// to the Role the install ships (manifests/base/rbac-remediator.yaml), and
// returns a client config authenticating as it.
func remediatorIdentity(t *testing.T, ns string) *rest.Config {
	t.Helper()
	ctx := context.Background()
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	docs, err := yamldocs.ReadFile(filepath.Join(root, "manifests", "base", "rbac-remediator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.Role
	for _, doc := range docs {
		var r rbacv1.Role
		if err := json.Unmarshal(doc, &r); err != nil {
			t.Fatalf("rbac-remediator.yaml: %v", err)
		}
		if r.Kind == "Role" && r.Name == "oom-remediator" {
			role = &r
		}
	}
	if role == nil {
		t.Fatal("manifests/base/rbac-remediator.yaml has no Role oom-remediator")
	}
	role.Namespace = ns
	if _, err := env.Kube.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "oom-remediator", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "oom-remediator", Namespace: ns}},
	}
	if _, err := env.Kube.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return env.ServiceAccountConfigT(t, ns, "oom-remediator")
}

func TestRemediatesWithItsOwnRole(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, fixtures.Bool(false))
	s.InitializeOutput()
	ctx := context.Background()
	if _, err := s.K.OOMKill(ctx, s.NS, s.Pod.Name, kubelet.WaitKilled); err != nil {
		t.Fatal(err)
	}
	sa := remediatorIdentity(t, s.NS)
	done := support.Go(remediator(t, sa, remediate.Options{}), s.Target())
	go s.StandInForController(ctx, time.Minute)
	r := support.Finish(t, done)
	if r.Err != nil || r.Res.Outcome != remediate.OutcomeRemediated {
		t.Fatalf("as oom-remediator: %s, %v", r.Res.Outcome, r.Err)
	}
	evs, err := env.Kube.CoreV1().Events(s.NS).List(ctx, metav1.ListOptions{})
	if err != nil || len(evs.Items) != 1 {
		t.Errorf("the Role does not let it record its Event: %+v %v", evs, err)
	}
}

func TestRoleGrantsNothingMore(t *testing.T) {
	ns := env.NewNamespace(t)
	other := env.NewNamespace(t)
	sa := kubernetes.NewForConfigOrDie(remediatorIdentity(t, ns))
	ctx := context.Background()
	tests := []struct {
		verb, group, resource, subresource, namespace string
		allowed                                       bool
	}{
		{"patch", "argoproj.io", "workflowtaskresults", "", ns, true},
		{"create", "argoproj.io", "workflowtaskresults", "", ns, true},
		{"watch", "argoproj.io", "workflows", "", ns, true},
		{"list", "", "pods", "", ns, true},
		{"create", "", "events", "", ns, true},
		{"get", "", "secrets", "", ns, false},
		{"list", "", "secrets", "", ns, false},
		{"patch", "argoproj.io", "workflows", "", ns, false},
		{"update", "argoproj.io", "workflows", "", ns, false},
		{"delete", "argoproj.io", "workflows", "", ns, false},
		{"delete", "argoproj.io", "workflowtaskresults", "", ns, false},
		{"update", "argoproj.io", "workflowtaskresults", "", ns, false},
		{"delete", "", "pods", "", ns, false},
		{"create", "", "pods", "exec", ns, false},
		{"create", "batch", "jobs", "", ns, false},
		{"get", "", "configmaps", "", ns, false},
		{"patch", "argoproj.io", "workflowtaskresults", "", other, false},
		{"list", "", "pods", "", other, false},
		{"get", "argoproj.io", "workflows", "", other, false},
		{"list", "", "pods", "", "", false}, // cluster-wide
	}
	for _, tt := range tests {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: tt.namespace, Verb: tt.verb,
				Group: tt.group, Resource: tt.resource, Subresource: tt.subresource}}}
		got, err := sa.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Allowed != tt.allowed {
			t.Errorf("%s %s/%s %s in %q: allowed=%v, want %v", tt.verb, tt.group, tt.resource, tt.subresource, tt.namespace, got.Status.Allowed, tt.allowed)
		}
	}
	// And a real call, not only a review.
	if _, err := sa.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing secrets: %v, want Forbidden", err)
	}
}
