// Package remediate rescues one workflow node whose WorkflowTaskResult may
// never be finalized: it reads the Workflow, the task result and the pod
// straight from the API server, asks package decide what to do, watches for
// changes while the answer is "wait", writes the label when it is safe, and
// watches the Workflow reach a completed phase.
//
// Every write carries an optimistic-concurrency precondition; a conflict
// means "read again and decide again", so any number of remediators can run
// for the same node and exactly one of them writes.
package remediate
