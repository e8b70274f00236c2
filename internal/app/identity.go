package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// Identity names this run in the annotations it writes (remediated-by) and
// in its Events, and it is how a run recognises its own write when the
// answer to it was lost. It is the host name (the Job's pod name); when
// that cannot be had, a random name, so that two runs never share one and
// an empty name is never written. The error says why it fell back.
func Identity(hostname func() (string, error)) (string, error) {
	name, err := hostname()
	if err == nil && name != "" {
		return name, nil
	}
	if err == nil {
		err = errors.New("the host name is empty")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return "argo-oom-remediator-" + hex.EncodeToString(b), fmt.Errorf("no host name for the run's identity: %w", err)
}
