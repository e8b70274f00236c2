// Package sweep finds workflow nodes stuck on an unfinished
// WorkflowTaskResult without any event: the safety net for what Argo Events'
// resource source misses (it never replays events lost while it was down).
//
// A scan lists the Running workflows (paginated, completed ones excluded by
// label), then, only in namespaces that have a suspect node, one list of
// task results and one list of pods. The same decision function as the Job
// picks the nodes that are safe to fix now; each is then remediated through
// the same code path as the Job.
package sweep
