package sweep

import (
	"context"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestWatchMetricsFollowAStuckNodeAndItsRescue runs `remediator watch` as a
// process, scrapes its /metrics (parsed by Prometheus's own parser) and
// sees them change: a node held by its false task result shows as stuck;
// a Job's run for an earlier pod finds the step rerun by Argo; a Job's run
// (another process) rescues it and fails to notify; the watch counts both
// from those runs' Events; the workflow's end is timed; the
// next sweep finds nothing stuck.
func TestWatchMetricsFollowAStuckNodeAndItsRescue(t *testing.T) {
	ctx := context.Background()
	s := support.NewStuck(t, env.Cluster, wfv1.NodeFailed, fixtures.Bool(false))
	s.InitializeOutput()
	ns := s.NS
	kubeconfig := support.Kubeconfig(t, t.TempDir(), "kubeconfig", env.Config)
	// A 1 h grace: the watch's own sweep never trusts the vanished pod
	// below, so the Job's run is the one that rescues.
	w := support.Start(t, env.Binary, support.EnvList(map[string]string{
		"REMEDIATOR_KUBECONFIG": kubeconfig, "REMEDIATOR_NAMESPACE": ns, "REMEDIATOR_WATCH_INTERVAL": "1s",
		"REMEDIATOR_METRICS_ADDRESS": "127.0.0.1:0", "REMEDIATOR_GRACE_PERIOD": "1h", "REMEDIATOR_DEADLINE": "2h", "REMEDIATOR_VERIFY_TIMEOUT": "1ms",
		"REMEDIATOR_LOG_FORMAT": "json",
	}), "watch")
	var base string
	support.Eventually(t, "the watch to listen", 30*time.Second, func(context.Context) (bool, error) {
		for _, l := range support.JSONLines(w.Log()) {
			if l["msg"] == "watching" {
				base = "http://" + l["address"].(string)
			}
		}
		return base != "", nil
	})
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", resp.Status)
	}
	var m support.Metrics
	until := func(what string, cond func(support.Metrics) bool) {
		t.Helper()
		support.Eventually(t, what, time.Minute, func(ctx context.Context) (bool, error) {
			var err error
			m, err = support.Scrape(ctx, base+"/metrics")
			return err == nil && cond(m), err
		})
	}
	nsLabel := []string{"namespace", ns}

	// Stuck: node Failed, its wait container still running.
	until("the node to show as stuck", func(m support.Metrics) bool {
		n, _ := m.Value("argo_oom_remediator_stuck_nodes", nsLabel...)
		return n == 1
	})
	if age, _ := m.Value("argo_oom_remediator_stuck_oldest_seconds", nsLabel...); age < 0 || age > 600 {
		t.Errorf("oldest stuck node %v s old", age)
	}
	if _, ok := m.Value("argo_oom_remediator_rescues_total", nsLabel...); ok {
		t.Error("a rescue counted before any")
	}

	// A Job triggered by an earlier pod of the node (another UID) finds the
	// step running again in the pod there now: Argo reruns it. Nothing is
	// written; the run's Event counts the rerun.
	earlier := support.Run(t, env.Binary, s.Env(env.Config, "", map[string]string{
		"REMEDIATOR_POD_UID": "0b6f4a39-86d4-4a43-9c53-1c7f0d1b2f11",
	}))
	if earlier.Code != 0 || earlier.Finished()["outcome"] != "rerun-by-argo" {
		t.Fatalf("the earlier pod's Job ended %d, %v; want 0, rerun-by-argo", earlier.Code, earlier.Finished())
	}

	// The pod vanishes; the Sensor's Job (grace 1 s) rescues the node and
	// cannot deliver its CloudEvent; the controller (played) ends the
	// workflow.
	if err := s.K.Delete(ctx, ns, s.Pod.Name); err != nil {
		t.Fatal(err)
	}
	standIn, stop := context.WithCancel(ctx)
	defer stop()
	go s.StandInForController(standIn, time.Minute)
	job := support.Run(t, env.Binary, s.Env(env.Config, "http://127.0.0.1:1/", map[string]string{
		"REMEDIATOR_REASON": "deleted", "REMEDIATOR_GRACE_PERIOD": "1s", "REMEDIATOR_VERIFY_TIMEOUT": "1m",
		"REMEDIATOR_SINK_RETRIES": "0",
	}))
	if job.Code != 3 || job.Finished()["outcome"] != "remediated" {
		t.Fatalf("the Job ended %d, %v; want 3 (notification failed) after a rescue", job.Code, job.Finished())
	}
	until("the rescue, its timing and the failed notification to count, and nothing stuck", func(m support.Metrics) bool {
		rescued, _ := m.Value("argo_oom_remediator_rescues_total", "namespace", ns, "outcome", "remediated", "trigger", "deleted")
		timed, _ := m.Value("argo_oom_remediator_oom_to_terminal_seconds")
		failed, _ := m.Value("argo_oom_remediator_notification_failures_total", "kind", "node")
		reran, _ := m.Value("argo_oom_remediator_rescues_total", "namespace", ns, "outcome", "rerun-by-argo", "trigger", "OOMKilled")
		_, stuck := m.Value("argo_oom_remediator_stuck_nodes", nsLabel...)
		return rescued == 1 && reran == 1 && timed == 1 && failed == 1 && !stuck
	})
	h := m["argo_oom_remediator_oom_to_terminal_seconds"].GetMetric()[0].GetHistogram()
	wf, err := env.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, s.WF.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := wf.Status.FinishedAt.Sub(wf.Status.Nodes[s.NodeID].FinishedAt.Time).Seconds()
	if got := h.GetSampleSum(); got != want {
		t.Errorf("OOM to terminal %v s, want the workflow's end less the node's, %v s", got, want)
	}
	if n, _ := m.Value("argo_oom_remediator_sweeps_total", "result", "ok"); n < 2 {
		t.Errorf("%v sweeps", n)
	}
	if n, _ := m.Value("argo_oom_remediator_sweeps_total", "result", "failed"); n != 0 {
		t.Errorf("%v failed sweeps", n)
	}
	rss, _ := m.Value("process_resident_memory_bytes")
	t.Logf("watch: resident memory %.1f MiB after %v sweeps", rss/(1<<20), must(m.Value("argo_oom_remediator_sweeps_total", "result", "ok")))

	// SIGTERM: the watch stops cleanly.
	if err := w.OS().Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if r := w.Wait(30 * time.Second); r.Code != 0 {
		t.Errorf("watch exited %d", r.Code)
	}
}

func must(v float64, _ bool) float64 { return v }
