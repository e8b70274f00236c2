package argo

import "testing"

func TestHasTaskResultTimeout(t *testing.T) {
	for v, want := range map[string]bool{"v3.5.8": false, "v3.6.15": false, "v3.7.0": false, "v3.7.1": true, "v3.7.18": true, "v4.0.5": true, "junk": false} {
		if got := HasTaskResultTimeout(v); got != want {
			t.Errorf("HasTaskResultTimeout(%q) = %v, want %v", v, got, want)
		}
	}
	env := LoweredTimeoutsEnv(LoweredTimeout)
	if len(env) != 2 || env[0] != "TASK_RESULT_TIMEOUT_DURATION=15s" || env[1] != "RECENTLY_DELETED_POD_DURATION=15s" {
		t.Errorf("LoweredTimeoutsEnv = %v", env)
	}
}
