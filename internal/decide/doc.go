// Package decide holds the one rule of the project as a pure function: given
// what is known about a workflow node, its WorkflowTaskResult and its pod,
// should the remediator complete the task result, create one, wait, or leave
// it alone?
//
// The rule that must never break: a task result is never completed (or
// created complete) while the node's `wait` container may still write
// outputs. A `wait` container proven terminated lets the remediator act at
// once; a pod that is gone without such proof is trusted only after a grace
// period, because a force-deleted pod's containers can outlive its object.
package decide
