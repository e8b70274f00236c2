package app

import (
	"errors"
	"strings"
	"testing"
)

// The host name's error used to be dropped: an empty identity was written
// as remediated-by and then used to recognise the run's own write.
func TestIdentity(t *testing.T) {
	if id, err := Identity(func() (string, error) { return "oom-remediate-abc-xyz", nil }); id != "oom-remediate-abc-xyz" || err != nil {
		t.Errorf("host name: %q, %v", id, err)
	}
	seen := map[string]bool{}
	for _, host := range []func() (string, error){
		func() (string, error) { return "", errors.New("uname failed") },
		func() (string, error) { return "", nil },
	} {
		id, err := Identity(host)
		if err == nil || !strings.HasPrefix(id, "argo-oom-remediator-") || len(id) != len("argo-oom-remediator-")+12 || seen[id] {
			t.Errorf("fallback: %q, %v; want a fresh random name and the reason", id, err)
		}
		seen[id] = true
	}
}
