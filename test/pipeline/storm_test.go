package pipeline

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"golang.org/x/sync/errgroup"
)

// TestStorm: N workflows OOM at once through the whole pipeline. Every
// run (make test, CI) has a storm of stormInCI workflows; the notification
// Sensor's rate limit alone (1 message/s) makes a large one slow, so a
// larger N is asked for with PIPELINE_STORM=N, e.g.
//
//	PIPELINE_STORM=50 go test -run TestStorm -timeout 20m ./pipeline/
//
// PIPELINE_STORM_PARALLEL bounds how many Jobs run at once (default 8).
// It expects exactly N Jobs (one per workflow), every workflow Failed, and N
// Slack messages, and logs how long each stage took to drain.
// stormInCI is the storm's size when PIPELINE_STORM is not set.
const stormInCI = 10

func TestStorm(t *testing.T) {
	n := stormInCI
	if v, ok := os.LookupEnv("PIPELINE_STORM"); ok {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("PIPELINE_STORM=%q: want a number of workflows above 0", v)
		}
	}
	if testing.Short() {
		t.Skip("runs the whole pipeline on a local control plane; skipped with -short")
	}
	parallel := 8 // remediator processes at once, like a small node pool
	if v, err := strconv.Atoi(os.Getenv("PIPELINE_STORM_PARALLEL")); err == nil && v > 0 {
		parallel = v
	}
	// Every service under the peak-RSS helper: the storm's figures size the
	// notification EventSource and Sensor (their manifests cite them).
	p := startPipelineWith(t, pipelineOptions{JobParallelism: parallel, PeakRSS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	names := make([]string, n)
	wfs := make([]*running, n)
	began := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range names {
		names[i] = fmt.Sprintf("storm-%03d", i)
		g.Go(func() (err error) {
			wfs[i], err = p.submitRunning(gctx, names[i])
			return err
		})
	}
	must(t, g.Wait())
	t.Logf("%d workflows running (pods Running, task results initialized) in %s", n, ms(time.Since(began)))

	oomAt := time.Now()
	g, gctx = errgroup.WithContext(ctx)
	for _, r := range wfs {
		g.Go(func() error { _, err := p.oomKill(gctx, r); return err })
	}
	must(t, g.Wait())
	t.Logf("%d pods OOMKilled in %s", n, ms(time.Since(oomAt)))

	jobsAll := p.drainJobs(t, ctx, names)
	terminalAll := p.drainWorkflows(t, ctx, names)
	var slackAll time.Time
	must(t, waitSlack(ctx, func(msgs []slackMessage) bool {
		for _, name := range names {
			m, ok := messageFor(msgs, p.NS, name)
			if !ok {
				return false
			}
			if m.At.After(slackAll) {
				slackAll = m.At
			}
		}
		return true
	}))
	must(t, p.waitJobs(ctx, func(runs []jobRun) bool {
		for _, r := range runs {
			if r.Done.IsZero() {
				return false
			}
		}
		return true
	}))

	t.Logf("storm of %d: all Jobs created %s, all workflows terminal %s, all Slack messages %s after the OOMs",
		n, ms(jobsAll.Sub(oomAt)), ms(terminalAll.Sub(oomAt)), ms(slackAll.Sub(oomAt)))
	p.checkStorm(t, names)
	p.Services.Stop()
	for _, name := range p.Services.Names() {
		t.Logf("%s over the storm: peak RSS %.1f MiB, CPU %.1f s", name, p.Services.PeakMiB(t, name), p.Services.CPUSeconds(t, name))
	}
}

// drainJobs waits for a Job per workflow and returns when the last appeared.
func (p *pipeline) drainJobs(t *testing.T, ctx context.Context, names []string) time.Time {
	var last time.Time
	must(t, p.waitJobs(ctx, func(runs []jobRun) bool {
		for _, name := range names {
			js := jobsOf(runs, name)
			if len(js) == 0 {
				return false
			}
			if js[0].Seen.After(last) {
				last = js[0].Seen
			}
		}
		return true
	}))
	return last
}

// drainWorkflows waits until every workflow completed.
func (p *pipeline) drainWorkflows(t *testing.T, ctx context.Context, names []string) time.Time {
	must(t, support.Until(ctx, 10*time.Minute, func(ctx context.Context) (bool, error) {
		phases, err := p.workflowPhases(ctx)
		if err != nil {
			return false, err
		}
		for _, name := range names {
			if !phases[name].Completed() {
				return false, nil
			}
		}
		return true, nil
	}))
	return time.Now()
}

func (p *pipeline) checkStorm(t *testing.T, names []string) {
	runs, _ := p.Jobs.snapshot()
	msgs, _ := slack.snapshot()
	phases, err := p.workflowPhases(context.Background())
	must(t, err)
	jobs, failedRuns, posted := 0, 0, 0
	for _, name := range names {
		js := jobsOf(runs, name)
		jobs += len(js)
		if len(js) != 1 {
			t.Errorf("workflow %s: %d Jobs, want 1", name, len(js))
		}
		for _, j := range js {
			if j.ExitCode != 0 || j.Err != nil {
				failedRuns++
				t.Errorf("Job %s exited %d (%v); log %s", j.Name, j.ExitCode, j.Err, j.LogPath)
			}
		}
		if phases[name] != wfv1.WorkflowFailed {
			t.Errorf("workflow %s: %s, want Failed", name, phases[name])
		}
		for _, m := range msgs {
			if _, ok := messageFor([]slackMessage{m}, p.NS, name); ok {
				posted++
			}
		}
	}
	t.Logf("storm of %d: %d Jobs (%d failed runs), %d Slack messages", len(names), jobs, failedRuns, posted)
	var queued, ran []time.Duration
	for _, r := range runs {
		queued, ran = append(queued, r.Started.Sub(r.Seen)), append(ran, r.Done.Sub(r.Started))
	}
	t.Logf("Jobs: waiting for a run slot (of %d) median %s max %s; remediator run median %s max %s",
		cap(p.Jobs.slots), ms(median(queued)), ms(slices.Max(queued)), ms(median(ran)), ms(slices.Max(ran)))
	if len(runs) != len(names) {
		t.Errorf("%d Jobs in the namespace for %d workflows", len(runs), len(names))
	}
	if posted != len(names) {
		t.Errorf("%d Slack messages for %d workflows", posted, len(names))
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
