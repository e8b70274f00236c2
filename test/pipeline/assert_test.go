package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
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
	var job jobRun
	err := p.waitJobs(ctx, func(runs []jobRun) bool {
		js := jobsOf(runs, workflow)
		if len(js) > 0 {
			job = js[0]
		}
		return len(js) > 0
	})
	return job, err
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
