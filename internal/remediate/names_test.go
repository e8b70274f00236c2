package remediate

import (
	"testing"

	"github.com/argoproj/argo-workflows/v3/workflow/common"
)

func TestNamesAreArgos(t *testing.T) {
	for ours, argos := range map[string]string{
		LabelWorkflow:          common.LabelKeyWorkflow,
		LabelCompleted:         common.LabelKeyReportOutputsCompleted,
		LabelWorkflowCompleted: common.LabelKeyCompleted,
		LabelInstanceID:        common.LabelKeyControllerInstanceID,
		AnnotationNodeID:       common.AnnotationKeyNodeID,
		WaitContainerName:      common.WaitContainerName,
	} {
		if ours != argos {
			t.Errorf("%q differs from Argo's %q", ours, argos)
		}
	}
}

// titled used to do ASCII arithmetic on the first byte: an upper-case or
// non-ASCII first letter came out as another character, a multi-byte one
// as invalid UTF-8.
func TestTitled(t *testing.T) {
	for in, want := range map[string]string{
		"complete": "Complete", "created": "Created", "Complete": "Complete",
		"émis": "Émis", "1st": "1st", "": "", "\xff": "\xff",
	} {
		if got := titled(in); got != want {
			t.Errorf("titled(%q) = %q, want %q", in, got, want)
		}
	}
}
