package config

import (
	"fmt"
	"strconv"
	"time"
)

// ExitCode is an optional container exit code read from the environment:
// empty means "not given" (the Sensor renders an empty value when the event
// did not show the container terminated). A value that does not parse is
// remembered and reported by Validate.
type ExitCode struct {
	Value int32
	Set   bool
	raw   string
	err   error
}

// Decode implements envconfig.Decoder.
func (e *ExitCode) Decode(value string) error {
	*e = ExitCode{raw: value}
	if value == "" {
		return nil
	}
	v, err := strconv.ParseInt(value, 10, 32)
	if err != nil {
		e.err = fmt.Errorf("%q is not an exit code (a whole number)", value)
		return nil
	}
	e.Value, e.Set = int32(v), true
	return nil
}

// Timestamp is an optional RFC 3339 time read from the environment, as the
// API server writes it (finishedAt); empty means "not given".
type Timestamp struct {
	time.Time
	raw string
	err error
}

// Decode implements envconfig.Decoder.
func (ts *Timestamp) Decode(value string) error {
	*ts = Timestamp{raw: value}
	if value == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		ts.err = fmt.Errorf("%q is not an RFC 3339 time (example: 2026-12-04T16:52:42Z)", value)
		return nil
	}
	ts.Time = t
	return nil
}

// WaitTerminated tells whether the configuration carries the triggering
// event's proof that the wait container of pod PodUID terminated. Only a
// configuration that Validate accepted is meaningful here.
func (c Config) WaitTerminated() bool { return c.WaitExitCode.Set && c.PodUID != "" }

// validateEvidence checks the wait container's evidence: it must parse, and
// it must name its pod (REMEDIATOR_POD_UID), or it could be taken for
// evidence about another pod of the same node.
func (c Config) validateEvidence(bad func(name, format string, a ...any)) {
	if c.WaitExitCode.err != nil {
		bad("WAIT_EXIT_CODE", "%v", c.WaitExitCode.err)
	}
	if c.WaitFinishedAt.err != nil {
		bad("WAIT_FINISHED_AT", "%v", c.WaitFinishedAt.err)
	}
	given := c.WaitExitCode.raw != "" || c.WaitFinishedAt.raw != ""
	switch {
	case !given:
	case c.Mode == ModeSweep:
		bad("WAIT_EXIT_CODE", "the wait container's evidence is not used by the sweep, which reads every pod itself")
	case c.PodUID == "":
		bad("WAIT_EXIT_CODE", "the wait container's evidence must name its pod: %s_POD_UID is required with it", Prefix)
	case c.WaitExitCode.raw == "":
		bad("WAIT_FINISHED_AT", "is set but %s_WAIT_EXIT_CODE is empty: a terminated container always has an exit code", Prefix)
	}
}
