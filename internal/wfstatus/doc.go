// Package wfstatus reads what the remediator needs of an Argo Workflow
// without decoding all of it: its identity, phase, the
// taskResultsCompletionStatus entries, and single nodes, wherever the
// controller keeps them.
//
// A small workflow keeps its nodes in status.nodes. Above MAX_WORKFLOW_SIZE
// (1 MiB by default) the controller packs them into status.compressedNodes
// (base64 of gzip of the nodes' JSON map) and leaves status.nodes empty; if
// that is still too large and node-status offloading is configured, they go
// to the controller's database and status.offloadNodeStatusVersion names the
// version. The remediator needs one node of a workflow that may have ten
// thousand: Nodes streams through the JSON (decompressing on the fly) and
// decodes only the node asked for, so the cost of a run does not grow with
// the workflow.
package wfstatus
