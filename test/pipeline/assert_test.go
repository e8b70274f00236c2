package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// slackFields returns the texts of the section fields of a Block Kit JSON.
func slackFields(blocks string) ([]string, error) {
	var bs []struct {
		Type   string `json:"type"`
		Fields []struct {
			Text string `json:"text"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(blocks), &bs); err != nil {
		return nil, fmt.Errorf("blocks %q: %w", blocks, err)
	}
	var out []string
	for _, b := range bs {
		for _, f := range b.Fields {
			out = append(out, f.Text)
		}
	}
	return out, nil
}

// messageFor returns the Slack message about namespace/workflow.
func messageFor(msgs []slackMessage, namespace, workflow string) (slackMessage, bool) {
	for _, m := range msgs {
		if strings.Contains(m.Text, " "+namespace+"/"+workflow+",") {
			return m, true
		}
	}
	return slackMessage{}, false
}

// waitSlack waits until done(messages) holds.
func waitSlack(ctx context.Context, done func([]slackMessage) bool) error {
	for {
		msgs, changed := slack.snapshot()
		if done(msgs) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for Slack messages (%d so far): %w", len(msgs), ctx.Err())
		}
	}
}

// waitJobs waits until done(runs) holds.
func (p *pipeline) waitJobs(ctx context.Context, done func([]jobRun) bool) error {
	for {
		runs, changed := p.Jobs.snapshot()
		if done(runs) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for Jobs (%d so far): %w", len(runs), ctx.Err())
		}
	}
}

// firstJob waits for the first Job run for workflow.
func (p *pipeline) firstJob(ctx context.Context, workflow string) (jobRun, error) {
	return p.firstJobWhen(ctx, workflow, func(jobRun) bool { return true })
}

// waitFirstJobDone waits until the first Job run for workflow has ended.
func (p *pipeline) waitFirstJobDone(ctx context.Context, workflow string) (jobRun, error) {
	return p.firstJobWhen(ctx, workflow, func(j jobRun) bool { return !j.Done.IsZero() })
}

// firstJobWhen waits for the first Job run for workflow to satisfy cond.
func (p *pipeline) firstJobWhen(ctx context.Context, workflow string, cond func(jobRun) bool) (jobRun, error) {
	var job jobRun
	err := p.waitJobs(ctx, func(runs []jobRun) bool {
		js := jobsOf(runs, workflow)
		if len(js) == 0 {
			return false
		}
		job = js[0]
		return cond(job)
	})
	return job, err
}

// waitTerminal polls workflow until its phase is completed and returns it
// with the time that was first seen. check, when not nil, runs on every
// read; its error ends the wait (a property that must hold throughout).
func (p *pipeline) waitTerminal(ctx context.Context, workflow string, check func(*wfv1.Workflow) error) (*wfv1.Workflow, time.Time, error) {
	var wf *wfv1.Workflow
	var at time.Time
	err := support.Until(ctx, 4*time.Minute, func(ctx context.Context) (bool, error) {
		got, err := p.C.Argo.ArgoprojV1alpha1().Workflows(p.NS).Get(ctx, workflow, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if check != nil {
			if err := check(got); err != nil {
				return false, err
			}
		}
		wf, at = got, time.Now()
		return got.Status.Phase.Completed(), nil
	})
	return wf, at, err
}

func jobsOf(runs []jobRun, workflow string) []jobRun {
	var out []jobRun
	for _, r := range runs {
		if r.Workflow == workflow {
			out = append(out, r)
		}
	}
	return out
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }
