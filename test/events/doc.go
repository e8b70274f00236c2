// Package events tests the Argo Events manifests of argo-oom-remediator
// (eventsources/ and sensors/) with argo-events v1.9.10's own code: the
// validation its controller runs, the dependency filters and trigger
// parameters its Sensor runs, fed with events built exactly as its generic
// event source builds them from what `remediator pods` sends (and its
// resource source did before, for the comparison), and as its webhook event
// source builds them.
//
// The pod fixtures in testdata/pods are what a pod watch on a real
// kube-apiserver delivered while TestCaptureFixtures played the workflow
// controller, the scheduler and the kubelet; rebuild them with
//
//	CAPTURE_FIXTURES=1 go test ./test/events -run TestCaptureFixtures
//
// (needs the binaries of `make tools-cluster`). Everything else is fast and
// needs no cluster.
package events
