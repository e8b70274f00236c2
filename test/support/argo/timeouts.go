package argo

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/version"
)

// The zero-install alternative to the remediator: a v3.7.1+ controller
// forces a false task result of a completed node complete once the node
// finished TASK_RESULT_TIMEOUT_DURATION ago (default 10 min) and, if its pod
// is gone, also RECENTLY_DELETED_POD_DURATION ago (default 2 min)
// (workflow/controller/taskresult.go, recentlyCompleted and recentlyDeleted,
// v3.7.18 and v4.0.5 alike). Both are read from the controller's
// environment at every check. Lowering both lets the controller end such
// workflows on its own, without any proof that the wait container ended.

// LoweredTimeout is the value the alternative is measured with.
const LoweredTimeout = 15 * time.Second

// LoweredTimeoutsEnv is the controller environment of the alternative: both
// durations set to d.
func LoweredTimeoutsEnv(d time.Duration) []string {
	return []string{
		fmt.Sprintf("TASK_RESULT_TIMEOUT_DURATION=%s", d),
		fmt.Sprintf("RECENTLY_DELETED_POD_DURATION=%s", d),
	}
}

// HasTaskResultTimeout reports whether the controller of v reads
// TASK_RESULT_TIMEOUT_DURATION (v3.7.1 and later, #14536): only there is
// the alternative complete (earlier versions force nothing while the pod
// exists).
func HasTaskResultTimeout(v string) bool {
	parsed, err := version.ParseSemantic(v)
	return err == nil && parsed.AtLeast(version.MustParseSemantic("v3.7.1"))
}
