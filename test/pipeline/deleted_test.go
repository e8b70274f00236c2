package pipeline

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// TestPipelineOOMDeletedAtOnce (issue 13): the pod is OOMKilled, its wait
// container killed in the same status update, and the pod deleted at once
// (podGC OnPodCompletion racing everything), so the Job's remediator never
// sees it. The event that created the Job showed wait terminated for this
// pod UID; the Job carries that proof (REMEDIATOR_WAIT_EXIT_CODE) and the
// remediator completes the task result without waiting out the 30 s grace
// for a vanished pod. Asserted: the write's reason is wait-terminated (the
// proof), not pod-gone (the grace). Logged: OOM → workflow terminal.
func TestPipelineOOMDeletedAtOnce(t *testing.T) {
	p := startPipeline(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const name = "etl-deleted"
	r, err := p.submitRunning(ctx, name)
	must(t, err)
	oomAt, err := p.oomKill(ctx, r)
	must(t, err)
	must(t, p.Kubelet.Delete(ctx, p.NS, r.Pod.Name))
	deletedAt := time.Now()

	wf, terminalAt, err := p.waitTerminal(ctx, name, nil)
	must(t, err)
	phase := wf.Status.Phase
	job, err := p.waitFirstJobDone(ctx, name)
	must(t, err)
	t.Logf("pod OOMKilled -> deleted:            %s", ms(deletedAt.Sub(oomAt)))
	t.Logf("pod OOMKilled -> Job created:        %s", ms(job.Seen.Sub(oomAt)))
	t.Logf("pod OOMKilled -> workflow %s:     %s (under load: a timing, not asserted)", phase, ms(terminalAt.Sub(oomAt)))

	if job.ExitCode != 0 || job.Err != nil {
		t.Errorf("Job %s: exit %d, err %v (log %s)", job.Name, job.ExitCode, job.Err, job.LogPath)
	}
	log, err := os.ReadFile(job.LogPath)
	must(t, err)
	if !strings.Contains(string(log), `"reason":"wait-terminated"`) || strings.Contains(string(log), `"reason":"pod-gone"`) {
		t.Errorf("the remediator did not act on the event's proof (want reason wait-terminated, never pod-gone):\n%s", log)
	}
	if phase != wfv1.WorkflowError && phase != wfv1.WorkflowFailed {
		t.Errorf("workflow phase %s, want Error (pod deleted) or Failed", phase)
	}
}
