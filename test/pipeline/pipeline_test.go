package pipeline

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPipeline: one workflow OOMs under the v3.5.8 controller and gets
// stuck; the real EventSource sees the pod update, the real Sensor creates
// the Job, the Job's remediator releases the workflow and reports to the
// webhook EventSource, and the notification Sensor posts to (fake) Slack.
func TestPipeline(t *testing.T) {
	p := startPipeline(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const name = "etl-nightly"
	r, err := p.submitRunning(ctx, name)
	must(t, err)
	oomAt, err := p.oomKill(ctx, r)
	must(t, err)

	job, err := p.firstJob(ctx, name)
	must(t, err)
	wf, terminalAt, err := p.waitTerminal(ctx, name, nil)
	must(t, err)
	phase := wf.Status.Phase
	var msg slackMessage
	must(t, waitSlack(ctx, func(msgs []slackMessage) bool {
		var ok bool
		msg, ok = messageFor(msgs, p.NS, name)
		return ok
	}))
	_, err = p.waitFirstJobDone(ctx, name)
	must(t, err)

	t.Logf("pod OOMKilled -> Job created:        %s", ms(job.Seen.Sub(oomAt)))
	t.Logf("pod OOMKilled -> workflow %s:    %s", phase, ms(terminalAt.Sub(oomAt)))
	t.Logf("pod OOMKilled -> Slack message:      %s", ms(msg.At.Sub(oomAt)))
	if done := jobsOf(p.Jobs.runsNow(), name)[0]; !done.Done.IsZero() {
		t.Logf("(remediator process ran from %s to %s after the OOM; the rest is the controller, see its log below)",
			ms(done.Started.Sub(oomAt)), ms(done.Done.Sub(oomAt)))
	}

	runs, _ := p.Jobs.snapshot()
	js := jobsOf(runs, name)
	if len(js) != 1 {
		t.Errorf("%d Jobs for the workflow, want 1: %+v", len(js), js)
	}
	if js[0].Reason != "OOMKilled" || js[0].ExitCode != 0 || js[0].Err != nil {
		t.Errorf("Job %s: reason %q, exit %d, err %v (log %s)", js[0].Name, js[0].Reason, js[0].ExitCode, js[0].Err, js[0].LogPath)
	}
	if phase != wfv1.WorkflowFailed {
		t.Errorf("workflow phase %s, want %s", phase, wfv1.WorkflowFailed)
	}
	fields, err := slackFields(msg.Blocks)
	must(t, err)
	for _, want := range []string{"*Workflow*\n" + name, "*Namespace*\n" + p.NS, "*Outcome*\nremediated", "*Trigger*\nOOMKilled"} {
		if !slices.Contains(fields, want) {
			t.Errorf("Slack message lacks field %q; fields: %q", want, fields)
		}
	}
	// The memory hint, from the OOMKilled container the Job's remediator
	// read (limit 64Mi → 128Mi).
	for _, want := range []string{"*Memory:* container `main`", "was OOMKilled at limit 64Mi", "*Suggested limit:* 128Mi", "podSpecPatch"} {
		if !strings.Contains(msg.Blocks, want) {
			t.Errorf("Slack message lacks the memory hint's %q; blocks: %s", want, msg.Blocks)
		}
	}
	if msg.Channel != "argo-alerts" || msg.Token != slackToken {
		t.Errorf("Slack message to channel %q with token %q", msg.Channel, msg.Token)
	}
	checkPodDeletion(ctx, t, p, r)
	if u := slack.unknownCalls(); len(u) > 0 {
		t.Errorf("unexpected Slack API calls: %v", u)
	}
	t.Logf("Slack message (thread %s/%s): %s\nblocks: %s", p.NS, name, msg.Text, msg.Blocks)
	if log, err := os.ReadFile(js[0].LogPath); err == nil {
		t.Logf("remediator (Job %s) log:\n%s", js[0].Name, log)
	}
}

// checkPodDeletion garbage-collects the OOMKilled pod. Its DELETE event
// fires the Sensor again for the same pod (wait never exited 0); the Job
// name is derived from (namespace, node ID, pod UID), so the create fails
// with AlreadyExists (logged, retried, then acked) and no second Job appears.
func checkPodDeletion(ctx context.Context, t *testing.T, p *pipeline, r *running) {
	const sensor, failed = "sensor-oom-remediation", "Failed to execute a trigger"
	before, _ := p.Logs.count(sensor, failed)
	must(t, p.Kubelet.Delete(ctx, p.NS, r.Pod.Name))
	must(t, p.Logs.waitCount(ctx, sensor, failed, before+1))
	jobs, err := p.C.Kube.BatchV1().Jobs(p.NS).List(ctx, metav1.ListOptions{LabelSelector: "argo-oom-remediator.io/workflow=" + r.WF.Name})
	must(t, err)
	if len(jobs.Items) != 1 {
		t.Errorf("%d Jobs after the pod's deletion, want 1", len(jobs.Items))
	}
	t.Logf("pod deleted: the Sensor fired again and its create failed (same Job name); still %d Job", len(jobs.Items))
}
