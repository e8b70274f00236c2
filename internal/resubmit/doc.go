// Package resubmit is the opt-in second half of a rescue: when a workflow
// that opted in (label or annotation argo-oom-remediator.io/resubmit: "true"
// on the Workflow or its WorkflowTemplate) ended Failed or Error and its only
// failed pod is the OOMKilled node the remediator rescued, it submits a new
// workflow with Argo's resubmit semantics and that node's template given more
// memory (the memory hint's rule: ×1.5, rounded up to a whole 64Mi), bounded
// by a maximum memory and a maximum chain length.
//
// Decide is pure: the workflow, the nodes the remediator rescued on it and the
// limits in, a decision out. Formulate builds the new workflow (a copy of
// Argo's workflow/util.FormulateResubmitWorkflow, non-memoized: importing that
// package would add 14 MB and 42 modules to the binary, see docs/operate.md).
// Resubmitter does the API calls, idempotently: the new workflow's name is
// derived from the chain's first workflow and the attempt number, so Job
// retries and several remediators create it at most once.
package resubmit
