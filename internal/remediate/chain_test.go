package remediate

import (
	"strings"
	"testing"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/wfstatus"
)

// TestChainRootKeepsALongName: the label holds a shortened root past 63
// characters; the run names the root in full from the annotation, so the
// report of every attempt lands in the root's Slack thread.
func TestChainRootKeepsALongName(t *testing.T) {
	long := "nightly-" + strings.Repeat("x", 100)
	tests := []struct {
		name        string
		labels, ann map[string]string
		want        string
	}{
		{"not a chain member", nil, nil, ""},
		{"a stray annotation without the label is no chain", nil, map[string]string{AnnotationChainRoot: "etl"}, ""},
		{"short root", map[string]string{LabelChainRoot: "etl"}, map[string]string{AnnotationChainRoot: "etl"}, "etl"},
		{"long root: the annotation's full name", map[string]string{LabelChainRoot: long[:50] + "-0a1b2c3d4e5"}, map[string]string{AnnotationChainRoot: long}, long},
		{"label only (annotation lost)", map[string]string{LabelChainRoot: "etl"}, nil, "etl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chainRoot(&wfstatus.Workflow{Labels: tt.labels, Annotations: tt.ann}); got != tt.want {
				t.Errorf("chainRoot = %q, want %q", got, tt.want)
			}
		})
	}
}
