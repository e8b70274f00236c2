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
