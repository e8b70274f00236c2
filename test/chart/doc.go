// Package chart tests the Helm chart charts/argo-oom-remediator with Helm's
// own Go SDK (helm.sh/helm/v4): lint, render for a matrix of values, and the
// values schema's refusals. A module of its own because Helm v4 brings the
// k8s.io modules at v0.36, which the test module (test/go.mod, client-go
// v0.32 with argo-events v1.9.10) cannot take; the API server dry run and the
// comparison with the kustomize overlays run in the test module, on renders
// made by this module's cmd/render (test/manifests/chart_test.go).
package chart
