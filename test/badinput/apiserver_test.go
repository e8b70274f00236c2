package badinput

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
)

const nodeID = "etl-nightly"

// stuck creates, in a new namespace, a Running workflow whose one node's
// pod is gone (node Error, task result still report-outputs-completed=false):
// what the remediator completes once the grace period (0s here) is over.
func stuck(t *testing.T, c *cluster.Cluster) (ns string, wf *wfv1.Workflow) {
	t.Helper()
	s := support.NewStuck(t, c, wfv1.NodeError, fixtures.Bool(false))
	s.InitializeOutput()
	if err := s.K.Delete(context.Background(), s.NS, s.Pod.Name); err != nil {
		t.Fatal(err)
	}
	if s.NodeID != nodeID {
		t.Fatalf("node %q, want %q", s.NodeID, nodeID)
	}
	return s.NS, s.WF
}

// versions returns the resourceVersions of the workflow and its task
// result, and the number of Events in ns.
func versions(t *testing.T, c *cluster.Cluster, ns string) (string, string, int) {
	t.Helper()
	ctx := context.Background()
	wf, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, "etl-nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := c.Argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).Get(ctx, nodeID, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := c.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return wf.ResourceVersion, tr.ResourceVersion, len(evs.Items)
}

// TestOnAPIServer runs the real binary against a real kube-apiserver: bad
// input changes nothing there, and no token leaks from a debug-level run,
// successful or failing.
func TestOnAPIServer(t *testing.T) {
	c := cluster.Start(t)
	admin := support.Kubeconfig(t, t.TempDir(), "admin", c.Config)

	t.Run("bad input writes nothing", func(t *testing.T) {
		dir := t.TempDir()
		ns, wf := stuck(t, c)
		base := map[string]string{"REMEDIATOR_KUBECONFIG": admin, "REMEDIATOR_NAMESPACE": ns,
			"REMEDIATOR_WORKFLOW": wf.Name, "REMEDIATOR_NODE_ID": nodeID, "REMEDIATOR_GRACE_PERIOD": "0s", "REMEDIATOR_DEADLINE": "20s"}
		// The same environment without a fault remediates: the check below
		// can fail. It runs last.
		cases := []struct{ key, value string }{
			{"REMEDIATOR_NAMESPACE", strings.ToUpper(ns)},
			{"REMEDIATOR_WORKFLOW", "etl_nightly"},
			{"REMEDIATOR_NODE_ID", "节点"},
			{"REMEDIATOR_DEADLINE", "-1m"},
			{"REMEDIATOR_GRACE_PERIOD", "ten"},
			{"REMEDIATOR_SINK_URL", "/remediations"},
			{"REMEDIATOR_SINK_TOKEN_FILE", support.WriteFile(t, dir, "empty-token", "")},
			{"REMEDIATOR_REASON", "because"},
			{"REMEDIATOR_DRY_RUN", "maybe"},
			{"REMEDIATOR_LOG_LEVEL", "loud"},
		}
		wfRV, trRV, events := versions(t, c, ns)
		for _, tc := range cases {
			env := support.Merge(base, map[string]string{tc.key: tc.value})
			if tc.key == "REMEDIATOR_SINK_TOKEN_FILE" {
				env["REMEDIATOR_SINK_URL"] = "http://127.0.0.1:1/x"
			}
			r := run(t, env)
			if r.Code != 2 || !strings.Contains(r.Stderr, tc.key+": ") {
				t.Errorf("%s=%q: exit %d, want 2 naming it; stderr:\n%s", tc.key, tc.value, r.Code, r.Stderr)
			}
			if w, tr, e := versions(t, c, ns); w != wfRV || tr != trRV || e != events {
				t.Errorf("%s=%q: written: workflow RV %s→%s, task result RV %s→%s, Events %d→%d", tc.key, tc.value, wfRV, w, trRV, tr, events, e)
			}
		}
		t.Logf("%d malformed values on the real API server: nothing written", len(cases))

		r := run(t, support.Merge(base, map[string]string{"REMEDIATOR_VERIFY_TIMEOUT": "0s"}))
		if _, tr, _ := versions(t, c, ns); r.Code != 0 || tr == trRV {
			t.Errorf("the same environment without a fault: exit %d, task result RV %s→%s; want 0 and a write\n%s", r.Code, trRV, tr, r.Stderr)
		}
	})

	t.Run("no token logged", func(t *testing.T) {
		dir := t.TempDir()
		ns, wf := stuck(t, c)
		ctx := context.Background()
		granted := c.ServiceAccountConfigT(t, ns, "remediator")
		bindClusterAdmin(t, c, ns, "remediator")
		denied := c.ServiceAccountConfigT(t, ns, "nobody")

		sinkToken := "sink-" + randomHex(t)
		sink := newRecorder(t, http.StatusAccepted, "")
		env := func(kube *rest.Config) map[string]string {
			return map[string]string{
				"REMEDIATOR_KUBECONFIG": support.Kubeconfig(t, dir, "kubeconfig-"+randomHex(t), kube),
				"REMEDIATOR_NAMESPACE":  ns, "REMEDIATOR_WORKFLOW": wf.Name, "REMEDIATOR_NODE_ID": nodeID,
				"REMEDIATOR_REASON": "deleted", "REMEDIATOR_GRACE_PERIOD": "0s", "REMEDIATOR_DEADLINE": "20s",
				"REMEDIATOR_VERIFY_TIMEOUT": "30s", "REMEDIATOR_SINK_URL": sink.srv.URL + "/remediations",
				"REMEDIATOR_SINK_TOKEN_FILE": support.WriteFile(t, dir, "token", sinkToken+"\n"),
				"REMEDIATOR_SINK_RETRIES":    "1", "REMEDIATOR_SINK_TIMEOUT": "2s",
				"REMEDIATOR_LOG_LEVEL": "debug", "REMEDIATOR_LOG_FORMAT": "json",
			}
		}
		secrets := map[string]string{"sink token": sinkToken, "API token (granted)": granted.BearerToken, "API token (denied)": denied.BearerToken}
		for name, s := range secrets {
			parts := strings.Split(s, ".")
			if len(parts) == 3 { // a JWT: its claims and signature are unique too
				secrets[name+" claims"], secrets[name+" signature"] = parts[1], parts[2]
			}
		}

		runs := []struct {
			name     string
			kube     *rest.Config
			sink     int
			wantCode int
		}{
			{"successful run", granted, http.StatusAccepted, 0},
			{"sink answers 401", granted, http.StatusUnauthorized, 3},
			{"sink answers 500", granted, http.StatusInternalServerError, 3},
			{"API server answers 403", denied, http.StatusAccepted, 1},
		}
		for i, rn := range runs {
			sink.reset()
			sink.set(rn.sink, "")
			if i == 0 {
				go func() {
					_ = kubelet.Kubelet{Kube: c.Kube, Argo: c.Argo}.StandInForController(ctx, ns, "etl-nightly", nodeID, time.Minute)
				}()
			}
			r := run(t, env(rn.kube))
			if r.Code != rn.wantCode {
				t.Errorf("%s: exit %d, want %d\n%s", rn.name, r.Code, rn.wantCode, r.Stderr)
			}
			if !strings.Contains(r.Stderr, `"level":"DEBUG"`) && i == 0 {
				t.Errorf("%s: no debug line logged; the check below would be weak", rn.name)
			}
			reqs := sink.requests()
			if len(reqs) == 0 {
				t.Errorf("%s: no CloudEvent sent", rn.name)
			}
			for _, req := range reqs {
				if got := req.header.Get("Authorization"); got != "Bearer "+sinkToken {
					t.Errorf("%s: Authorization %q, want the token of the file", rn.name, got)
				}
				h := req.header.Clone()
				h.Del("Authorization")
				headers, _ := json.Marshal(h)
				for what, s := range secrets {
					for where, text := range map[string]string{"the CloudEvent body": string(req.body), "the other headers": string(headers)} {
						if strings.Contains(text, s) {
							t.Errorf("%s: the %s is in %s", rn.name, what, where)
						}
					}
				}
			}
			for what, s := range secrets {
				for where, text := range map[string]string{"stdout": r.Stdout, "stderr": r.Stderr} {
					if strings.Contains(text, s) {
						t.Errorf("%s: the %s is in %s", rn.name, what, where)
					}
				}
			}
			t.Logf("%s: exit %d, %d log bytes, %d deliveries", rn.name, r.Code, len(r.Stderr), len(reqs))
		}

		evs, err := c.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs.Items) == 0 {
			t.Fatal("no Kubernetes Event recorded; the check below would be empty")
		}
		all, _ := json.Marshal(evs.Items)
		for what, s := range secrets {
			if strings.Contains(string(all), s) {
				t.Errorf("the %s is in a Kubernetes Event", what)
			}
		}
		t.Logf("%d Kubernetes Events checked", len(evs.Items))
	})
}

// bindClusterAdmin lets ServiceAccount ns/sa do anything in ns.
func bindClusterAdmin(t *testing.T, c *cluster.Cluster, ns, sa string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: sa + "-admin", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}},
	}
	if _, err := c.Kube.RbacV1().RoleBindings(ns).Create(context.Background(), rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
