// Package resubmit tests the opt-in resubmit with more memory end to end,
// under a real Argo Workflows controller (v3.5.8, where an OOMKilled pod
// whose wait container was killed leaves its workflow stuck Running): the
// played kubelet OOMKills every main container whose memory limit is below
// what its step needs (kubelet.AnnotationNeedsMemory), `remediator watch`
// (the shipped binary, REMEDIATOR_RESUBMIT=true) rescues each stuck
// workflow and resubmits the ones that opted in, and the CloudEvents it
// sends are rendered as the Slack Sensor would post them.
package resubmit
