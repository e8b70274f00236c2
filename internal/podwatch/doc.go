// Package podwatch is `remediator pods`: a lean watcher of workflow pods
// that serves their changes to Argo Events through its `generic` event
// source (a gRPC stream, eventsources/workflow-pods.yaml), in place of
// argo-events' own resource event source.
//
// Why: argo-events v1.9.10's resource source caches every live workflow
// pod as a full unstructured object, about 44 KiB each (927 MiB peak RSS at
// 10,000 live pods, docs/benchmarks-scale.md), and sends every UPDATE with
// both bodies over the EventBus. This watcher's informer keeps only the
// fields the Sensor's filters and the Job's parameters read ([Lean]), and
// an UPDATE that changes none of them is not sent at all ([Changed]): the
// Sensor could not fire on it.
//
// Each event is the JSON the resource source would have sent, restricted
// to those fields: {"type": "UPDATE"|"DELETE", "body": pod, "oldBody": pod
// or null}. The generic source wraps it as {"metadata", "body"}; the
// Sensor's dependency unwraps it (transform jq ".body"), so its filters and
// parameters are the same as on resource events.
//
// Delivery: an event goes to every connected stream (the EventSource pod,
// one at a time under its leader election). With none connected it is
// dropped and counted, as the resource source drops what happens while it
// is down; the periodic sweep covers both. A DELETE noticed only on a
// re-list is sent with the pod's last known state (argo-events drops it).
package podwatch
