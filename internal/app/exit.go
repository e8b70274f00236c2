package app

import (
	"errors"
)

// Exit codes of the remediator.
const (
	// ExitOK: done, or nothing to do; the outcome says which.
	ExitOK = 0
	// ExitFailure: the run failed (API error, interrupted); a retry may succeed.
	ExitFailure = 1
	// ExitBadInput: the configuration is invalid; nothing was written.
	ExitBadInput = 2
	// ExitNotifyFailed: the remediation ended but its CloudEvent was not
	// delivered; a retry reports the same outcome under the same event id.
	ExitNotifyFailed = 3
	// ExitStuck: the run ended with the workflow still held by a false task
	// result entry it could do nothing about (its nodes unreadable, say); a
	// Warning Event on the Workflow says why. A retry may find it readable.
	ExitStuck = 4
)

// StuckError marks a run that left a stuck workflow as it found it.
type StuckError struct{ Err error }

func (e *StuckError) Error() string { return e.Err.Error() }
func (e *StuckError) Unwrap() error { return e.Err }

// BadInputError marks a configuration problem.
type BadInputError struct{ Err error }

func (e *BadInputError) Error() string { return "invalid configuration:\n" + e.Err.Error() }
func (e *BadInputError) Unwrap() error { return e.Err }

// NotifyError marks a run whose notification could not be delivered.
type NotifyError struct{ Err error }

func (e *NotifyError) Error() string { return e.Err.Error() }
func (e *NotifyError) Unwrap() error { return e.Err }

// ExitCode maps a run's error to the process exit code.
func ExitCode(err error) int {
	var bad *BadInputError
	var notify *NotifyError
	var stuck *StuckError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &bad):
		return ExitBadInput
	case errors.As(err, &notify):
		return ExitNotifyFailed
	case errors.As(err, &stuck):
		return ExitStuck
	}
	return ExitFailure
}
