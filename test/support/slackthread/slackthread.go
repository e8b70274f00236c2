// Package slackthread renders the remediator's CloudEvents as the Slack
// Sensor (sensors/oom-notification.yaml) would post them, with argo-events'
// own dependency filter and trigger-parameter code: which are posted, in
// which thread, with what text. It lets a test against real components show
// the Slack thread of a real run. test/events covers the same path in more
// depth (the webhook EventSource, the webhook variant).
package slackthread

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/eventsources/events"
	"github.com/argoproj/argo-events/pkg/sensors/dependencies"
	"github.com/argoproj/argo-events/pkg/sensors/triggers"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/yamldocs"
)

// Message is one post.
type Message struct {
	Thread, Text string
	// Blocks is the text of every block, in order, one per line.
	Blocks string
}

// Sensor is the Slack notification Sensor of the repository.
type Sensor struct{ s *v1alpha1.Sensor }

// Load reads sensors/oom-notification.yaml.
func Load() (*Sensor, error) {
	root, err := cluster.RepoRoot()
	if err != nil {
		return nil, err
	}
	path := root + "/sensors/oom-notification.yaml"
	docs, err := yamldocs.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the Sensor: %w", err)
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("%s: %d documents, want 1", path, len(docs))
	}
	s := &v1alpha1.Sensor{}
	if err := json.NewDecoder(bytes.NewReader(docs[0])).Decode(s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Sensor{s: s}, nil
}

// Render is what the Sensor posts for the CloudEvent body (structured mode,
// as the remediator sends it to the webhook EventSource); posted is false
// when its filter drops it.
func (s *Sensor) Render(body []byte) (msg Message, posted bool, err error) {
	data, err := json.Marshal(&events.WebhookEventData{Body: (*json.RawMessage)(&body)})
	if err != nil {
		return msg, false, err
	}
	ev := &v1alpha1.Event{Context: &v1alpha1.EventContext{DataContentType: "application/json", Source: "remediator-notifications",
		SpecVersion: "1.0", Type: "webhook", Time: metav1.Time{Time: time.Now()}, ID: "e2e", Subject: "remediations"}, Data: data}
	dep := s.s.Spec.Dependencies[0]
	if posted, err = dependencies.Filter(ev, dep.Filters, dep.FiltersLogicalOperator); err != nil || !posted {
		return msg, false, err
	}
	trigger := *s.s.Spec.Triggers[0].DeepCopy()
	if err := triggers.ApplyTemplateParameters(map[string]*v1alpha1.Event{dep.Name: ev}, &trigger); err != nil {
		return msg, false, fmt.Errorf("trigger parameters: %w", err)
	}
	sl := trigger.Template.Slack
	msg = Message{Thread: sl.Thread.MessageAggregationKey, Text: sl.Message}
	var blocks []any
	if err := json.Unmarshal([]byte(sl.Blocks), &blocks); err != nil {
		return msg, true, fmt.Errorf("blocks are not JSON: %w", err)
	}
	var texts []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if t, ok := v["text"].(string); ok {
				texts = append(texts, t)
			}
			for _, k := range []string{"text", "fields", "elements"} {
				if x, ok := v[k]; ok {
					walk(x)
				}
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(blocks)
	msg.Blocks = strings.Join(texts, "\n")
	return msg, true, nil
}
