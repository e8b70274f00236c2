// Package notify describes a remediation run as a CloudEvent and delivers it
// in structured mode (so an Argo Events webhook source sees body.type,
// body.subject and body.data), with bounded retries.
//
// The event id is derived from what the run is about and how it ended, not
// from the run itself: the same remediation reported twice (a Job retried
// after a lost delivery) carries the same id, so receivers can de-duplicate.
package notify
