package sweep

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// jobsConfig is what the shipped ConfigMap gives a remediation Job
// (manifests/base/configmap.yaml) as far as these runs depend on it.
var jobsConfig = map[string]string{"REMEDIATOR_VERIFY_TIMEOUT": "2m", "REMEDIATOR_LOG_LEVEL": "warn"}

// stuckOOMs creates n workflows stuck after an OOM, each in a namespace of
// its own, as support.NewStuck does: its pod's main OOMKilled and wait
// killed with it (exit 137: it never finalized), the node Failed, the task
// result false.
func stuckOOMs(tb testing.TB, c *cluster.Cluster, n int) []*support.Stuck {
	tb.Helper()
	out := make([]*support.Stuck, n)
	for i := range out {
		s := support.NewStuck(tb, c, wfv1.NodeRunning, fixtures.Bool(false))
		s.InitializeOutput()
		s.OOMKill(kubelet.WaitKilled)
		s.MarkNode(wfv1.NodeFailed, "OOMKilled (exit code 137)")
		out[i] = s
	}
	return out
}

// standIn ends each workflow of stuck as Argo's controller would once its
// task result is complete (support.Stuck.StandInForController), for as
// long as ctx lasts. One watch of the completed task results of every
// namespace tells when: a poll per workflow (200 of them every 20 ms)
// would load the API server more than the runs it stands beside.
func standIn(ctx context.Context, tb testing.TB, c *cluster.Cluster, stuck []*support.Stuck) {
	byNS := map[string]*support.Stuck{}
	for _, s := range stuck {
		byNS[s.NS] = s
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ended := map[string]bool{}
	for ctx.Err() == nil {
		// Watched again from the start when the API server closes the
		// watch: the task results completed meanwhile come as ADDED.
		w, err := c.Argo.ArgoprojV1alpha1().WorkflowTaskResults("").Watch(ctx,
			metav1.ListOptions{LabelSelector: common.LabelKeyReportOutputsCompleted + "=true"})
		if err != nil {
			if ctx.Err() == nil {
				tb.Errorf("stand-in: %v", err)
			}
			return
		}
		for ev := range w.ResultChan() {
			tr, ok := ev.Object.(*wfv1.WorkflowTaskResult)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			if s := byNS[tr.Namespace]; s != nil && tr.Name == s.NodeID && !ended[s.NS] {
				ended[s.NS] = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.StandInForController(ctx, time.Minute)
				}()
			}
		}
		w.Stop()
	}
}

// fleet is what a set of processes started at once cost.
type fleet struct {
	N         int
	Took      time.Duration // first start to last exit
	Requests  []support.Request
	PeakProcs int     // processes alive at once, at most
	PeakMiB   float64 // their summed RSS, at most (sampled every 50 ms)
	Rescued   int
}

func (f fleet) String() string {
	return fmt.Sprintf("%d processes in %s (at most %d at once, %.0f MiB of RSS together), %d rescued, %s",
		f.N, f.Took.Round(time.Millisecond), f.PeakProcs, f.PeakMiB, f.Rescued, rates(f.Requests))
}

// rates tells the requests, their kinds, the mean rate over their span and
// the busiest second's.
func rates(reqs []support.Request) string {
	if len(reqs) == 0 {
		return "no request"
	}
	first, last := reqs[0].At, reqs[0].At
	perSecond := map[int64]int{}
	for _, r := range reqs {
		first, last = minTime(first, r.At), maxTime(last, r.At)
		perSecond[r.At.Unix()]++
	}
	busiest := 0
	for _, n := range perSecond {
		busiest = max(busiest, n)
	}
	span := last.Sub(first)
	return fmt.Sprintf("%d requests over %s (%.0f/s mean, %d in the busiest second): %s", len(reqs),
		span.Round(time.Millisecond), float64(len(reqs))/max(span.Seconds(), 1), busiest, support.Summary(reqs))
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// rssMiB is the VmRSS of a running process, 0 once it has exited.
func rssMiB(pid int) float64 {
	mib, _ := support.RSSMiB(pid)
	return mib
}

// jobsAtOnce starts one remediator process per stuck workflow, all at once,
// each with the environment the Sensor's Job gives it (the node, its pod,
// the OOM's evidence of the wait container) and the shipped ConfigMap's
// settings, through proxy; waits for all; and checks each rescued its
// node.
func jobsAtOnce(tb testing.TB, proxy *support.Proxy, stuck []*support.Stuck) fleet {
	tb.Helper()
	envs := make([][]string, len(stuck))
	for i, s := range stuck {
		envs[i] = s.Env(proxy.Config(), "", support.Merge(jobsConfig, map[string]string{
			"REMEDIATOR_WAIT_EXIT_CODE":   "137",
			"REMEDIATOR_WAIT_FINISHED_AT": time.Now().UTC().Format(time.RFC3339),
		}))
	}
	f := fleet{N: len(stuck)}
	since := time.Now()
	procs := make([]*support.Process, len(stuck))
	for i := range stuck {
		procs[i] = support.Start(tb, env.Binary, envs[i])
	}
	f.sample(procs)
	for i, p := range procs {
		if r := p.Wait(3 * time.Minute); r.Code != 0 {
			tb.Errorf("job %d (%s): exit %d\n%s", i, stuck[i].NS, r.Code, r.Stderr)
		}
	}
	f.Took = time.Since(since)
	proxy.Settle(tb)
	f.Requests = proxy.Requests(since, nil)
	f.Rescued = rescued(tb, stuck)
	return f
}

// sample follows procs until all have exited: how many run at once and
// their summed RSS.
func (f *fleet) sample(procs []*support.Process) {
	tick := time.NewTicker(50 * time.Millisecond) // the sampling period, not a wait for anything
	defer tick.Stop()
	for ; ; <-tick.C {
		alive, mib := 0, 0.0
		for _, p := range procs {
			if p.Running() {
				alive++
				mib += rssMiB(p.OS().Pid)
			}
		}
		f.PeakProcs, f.PeakMiB = max(f.PeakProcs, alive), max(f.PeakMiB, mib)
		if alive == 0 {
			return
		}
	}
}

// rescued counts the stuck workflows whose task result the remediator
// completed and which the stand-in then ended.
func rescued(tb testing.TB, stuck []*support.Stuck) int {
	tb.Helper()
	n := 0
	for _, s := range stuck {
		tr := s.TaskResult()
		ok := tr.Labels[common.LabelKeyReportOutputsCompleted] == "true" && tr.Annotations[remediate.AnnotationRemediatedAt] != ""
		support.Eventually(tb, "the stand-in to end "+s.NS, time.Minute, func(context.Context) (bool, error) {
			return !ok || s.Workflow().Status.Phase.Completed(), nil
		})
		if ok {
			n++
		}
	}
	return n
}

// sweepStuck runs one `remediator sweep` over every namespace with the
// same settings as the Jobs, through proxy.
func sweepStuck(tb testing.TB, proxy *support.Proxy, stuck []*support.Stuck) fleet {
	tb.Helper()
	cfg := support.Merge(jobsConfig, map[string]string{
		"REMEDIATOR_KUBECONFIG": support.Kubeconfig(tb, tb.TempDir(), "kubeconfig", proxy.Config()), "REMEDIATOR_NAMESPACE": ""})
	f := fleet{N: 1}
	since := time.Now()
	p := support.Start(tb, env.Binary, support.EnvList(cfg), "sweep")
	f.sample([]*support.Process{p})
	if r := p.Wait(5 * time.Minute); r.Code != 0 {
		tb.Errorf("sweep: exit %d\n%s", r.Code, r.Stderr)
	}
	f.Took = time.Since(since)
	proxy.Settle(tb)
	f.Requests = proxy.Requests(since, nil)
	f.Rescued = rescued(tb, stuck)
	return f
}

// concurrentJobs rescues n stuck workflows with n Jobs at once, then n
// others with one sweep, on a control plane of its own, each through a
// counting proxy.
func concurrentJobs(tb testing.TB, n int) (jobs, sweep fleet) {
	tb.Helper()
	c := cluster.Start(tb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	byJobs, bySweep := stuckOOMs(tb, c, n), stuckOOMs(tb, c, n)
	go func() {
		defer close(done)
		standIn(ctx, tb, c, append(append([]*support.Stuck(nil), byJobs...), bySweep...))
	}()
	jobs = jobsAtOnce(tb, support.NewProxy(tb, c.Config), byJobs)
	sweep = sweepStuck(tb, support.NewProxy(tb, c.Config), bySweep)
	for what, f := range map[string]fleet{"jobs": jobs, "sweep": sweep} {
		if f.Rescued != n {
			tb.Errorf("%s: %d of the %d stuck workflows rescued", what, f.Rescued, n)
		}
	}
	return jobs, sweep
}

// TestConcurrentJobs: 10 stuck workflows, each rescued by its own
// remediator process started at the same moment (as 10 Jobs of the
// Sensor), against one API server; then 10 others by one sweep. Every
// node is written exactly once, each Job stays within the request budget
// of one remediation (8), and the sweep's requests follow its pages and
// chunks, not the nodes' reads. BenchmarkConcurrentJobs runs 200.
func TestConcurrentJobs(t *testing.T) {
	const n = 10
	jobs, sweep := concurrentJobs(t, n)
	t.Logf("jobs: %s", jobs)
	t.Logf("sweep: %s", sweep)
	for what, f := range map[string]fleet{"jobs": jobs, "sweep": sweep} {
		writes := 0
		for _, r := range f.Requests {
			if r.IsTaskResultWrite() {
				writes++
			}
		}
		if writes != n {
			t.Errorf("%s: %d task result writes, want exactly %d", what, writes, n)
		}
	}
	if len(jobs.Requests) > 8*n {
		t.Errorf("jobs: %d requests, over the budget of 8 per remediation", len(jobs.Requests))
	}
	if jobs.PeakProcs < 2 {
		t.Errorf("jobs: at most %d process at once; they were to run together", jobs.PeakProcs)
	}
}

// BenchmarkConcurrentJobs: 200 stuck workflows, each rescued by its own
// remediator process, all started at once against one API server (as the
// Jobs of an OOM storm), then 200 others by one sweep; reports the
// requests, the request rate the API server saw, the processes alive at
// once and their memory. CONCURRENT_JOBS changes the number.
func BenchmarkConcurrentJobs(b *testing.B) {
	n := support.EnvInt(b, "CONCURRENT_JOBS", 200)
	for i := 0; i < b.N; i++ {
		jobs, sweep := concurrentJobs(b, n)
		b.Logf("jobs: %s", jobs)
		b.Logf("sweep: %s", sweep)
		b.ReportMetric(float64(len(jobs.Requests)), "job-requests")
		b.ReportMetric(jobs.Took.Seconds(), "jobs-s")
		b.ReportMetric(float64(jobs.PeakProcs), "jobs-peak-procs")
		b.ReportMetric(jobs.PeakMiB, "jobs-peak-RSS-MiB")
		b.ReportMetric(float64(len(sweep.Requests)), "sweep-requests")
		b.ReportMetric(sweep.Took.Seconds(), "sweep-s")
	}
}
