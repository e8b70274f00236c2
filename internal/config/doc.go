// Package config reads the remediator's settings from the environment, once,
// into one struct, and validates them all at once so a person fixing a Job
// sees every mistake in one run.
package config
