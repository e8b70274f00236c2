package sweep

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/app"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/config"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// kind is what a sweep test workflow looks like.
type kind int

const (
	stuckPodGone      kind = iota // node Error long ago, pod gone, task result false: fix
	stuckWaitKilled               // node Failed, pod Failed with wait 137, task result false: fix
	stuckLegacy                   // node Error long ago, pod gone, no task result, entry false: create
	decoyGoneRecently             // pod gone within the grace: not yet
	decoyWaitRunning              // node Failed but wait still running: never while it runs
	decoyHealthy                  // task result true, entry true
	decoyStillRunning             // node running with a live wait container
	decoyCompleted                // completed workflow (excluded by label)
	decoyBusy                     // running workflow, entry true: the object only (no task result, no pod), for the scale runs
)

// population returns n workflow kinds of which stuck are stuck, the stuck
// ones spread over the three stuck kinds and the rest over the decoys.
func population(n, stuck int) []kind {
	out := make([]kind, n)
	decoys := []kind{decoyGoneRecently, decoyWaitRunning, decoyHealthy, decoyStillRunning, decoyCompleted}
	for i := range out {
		if i < stuck {
			out[i] = []kind{stuckPodGone, stuckWaitKilled, stuckLegacy}[i%3]
		} else {
			out[i] = decoys[i%len(decoys)]
		}
	}
	return out
}

func (k kind) stuck() bool { return k <= stuckLegacy }

// createWorld writes the workflows, task results and pods of kinds into ns
// of the package's control plane, as Argo's controller, executor and the
// kubelet would have left them.
func createWorld(ctx context.Context, tb testing.TB, ns string, kinds []kind) {
	tb.Helper()
	var g errgroup.Group
	g.SetLimit(16)
	for i, k := range kinds {
		g.Go(func() error { return createOne(ctx, env.Cluster, ns, fmt.Sprintf("wf-%05d", i), k) })
	}
	if err := g.Wait(); err != nil {
		tb.Fatal(err)
	}
}

// createOne writes workflow name of kind k into ns of c, with the task
// result and pod its kind has.
func createOne(ctx context.Context, c *cluster.Cluster, ns, name string, k kind) error {
	node := name + "-1"
	// The sweeps here run with a 5-minute grace: "recent" stays recent
	// however long the setup takes.
	long, recent := time.Now().Add(-time.Hour), time.Now()
	f, tr := fixtures.Bool(false), fixtures.Bool(true)
	var wf *wfv1.Workflow
	switch k {
	case stuckPodGone, stuckLegacy:
		wf = fixtures.Workflow(ns, name, "", node, wfv1.NodeError, f, long)
	case stuckWaitKilled, decoyWaitRunning:
		wf = fixtures.Workflow(ns, name, "", node, wfv1.NodeFailed, f, long)
	case decoyGoneRecently:
		wf = fixtures.Workflow(ns, name, "", node, wfv1.NodeError, f, recent)
	case decoyHealthy, decoyBusy:
		wf = fixtures.Workflow(ns, name, "", node, wfv1.NodeSucceeded, tr, long)
	case decoyStillRunning:
		wf = fixtures.Workflow(ns, name, "", node, wfv1.NodeRunning, f, long)
	case decoyCompleted:
		wf = fixtures.Workflow(ns, name, "", node, wfv1.NodeError, f, long)
		wf.Status.Phase = wfv1.WorkflowFailed
	}
	wf.Labels = map[string]string{remediate.LabelWorkflowCompleted: fmt.Sprint(wf.Status.Phase == wfv1.WorkflowFailed)}
	created, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Create(ctx, wf, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	if k == decoyBusy {
		return nil
	}
	if k != stuckLegacy {
		if _, err := c.Argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).Create(ctx,
			fixtures.TaskResult(created, node, k == decoyHealthy), metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	var wait fixtures.WaitState
	switch k {
	case stuckWaitKilled:
		wait = fixtures.WaitKilled
	case decoyWaitRunning, decoyStillRunning:
		wait = fixtures.WaitRunning
	case decoyHealthy:
		wait = fixtures.WaitDone
	default:
		return nil // no pod
	}
	p := fixtures.Pod(created, node, name+"-pod", "", wait)
	status := p.Status
	p, err = c.Kube.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	p.Status = status
	_, err = c.Kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	return err
}

// writeRecorder records every write request.
type writeRecorder struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeRecorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return support.RoundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet {
			w.mu.Lock()
			w.writes = append(w.writes, req.Method+" "+req.URL.Path)
			w.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

func sweepDeps(cfg *rest.Config) app.Deps {
	return app.Deps{Kube: kubernetes.NewForConfigOrDie(cfg), Argo: versioned.NewForConfigOrDie(cfg),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Identity: "sweep-it"}
}

// sweepConfig loads the sweep's configuration for ns, as its CronJob's
// environment gives it, with the test's values on top of these: verify
// for 1 ms, no sink retries, 5 min grace, 8 at once.
func sweepConfig(tb testing.TB, ns string, vars map[string]string) config.Config {
	tb.Helper()
	for k, v := range support.Merge(map[string]string{"REMEDIATOR_NAMESPACE": ns, "REMEDIATOR_VERIFY_TIMEOUT": "1ms",
		"REMEDIATOR_SINK_RETRIES": "0", "REMEDIATOR_GRACE_PERIOD": "5m", "REMEDIATOR_SWEEP_CONCURRENCY": "8"}, vars) {
		tb.Setenv(k, v)
	}
	cfg, err := config.Load(config.ModeSweep)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

func TestSweepFixesExactlyTheStuck(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t)
	kinds := population(500, 20)
	createWorld(ctx, t, ns, kinds)

	rec := &writeRecorder{}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(rec.wrap)
	if err := app.Run(ctx, sweepConfig(t, ns, nil), sweepDeps(cfg)); err != nil {
		t.Fatal(err)
	}
	// Exactly the 20 stuck task results written (patched or created), each
	// with its Kubernetes Event, and nothing else.
	patched, created, events := 0, 0, 0
	for _, w := range rec.writes {
		switch {
		case strings.HasPrefix(w, "PATCH ") && strings.Contains(w, "/workflowtaskresults/"):
			patched++
		case strings.HasPrefix(w, "POST ") && strings.HasSuffix(w, "/workflowtaskresults"):
			created++
		case strings.HasPrefix(w, "POST ") && strings.HasSuffix(w, "/events"):
			events++
		default:
			t.Errorf("unexpected write %s", w)
		}
	}
	if patched != 14 || created != 6 || events != 20 {
		t.Errorf("%d patched, %d created, %d events; want 14, 6, 20", patched, created, events)
	}
	trs, err := env.Argo.ArgoprojV1alpha1().WorkflowTaskResults(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fixed := map[string]bool{}
	for _, tr := range trs.Items {
		if tr.Annotations[remediate.AnnotationRemediatedAt] != "" {
			fixed[tr.Labels[remediate.LabelWorkflow]] = true
		}
	}
	for i, k := range kinds {
		name := fmt.Sprintf("wf-%05d", i)
		if fixed[name] != k.stuck() {
			t.Errorf("%s (kind %d): fixed=%v", name, k, fixed[name])
		}
	}
}
