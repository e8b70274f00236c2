// Package monitoring checks what manifests/components/monitoring ships with
// Prometheus's own parsers: the PrometheusRule's groups with rulefmt (the
// parser `promtool check rules` uses) and every alert and dashboard
// expression with the PromQL parser, each naming only metrics the remediator
// exposes (docs/metrics-sample.txt, which internal/metrics's test keeps
// equal to the real exposition).
//
// It is a module of its own: github.com/prometheus/prometheus brings
// Kubernetes and OpenTelemetry versions the test module's (k8s v0.32) cannot
// take.
package monitoring
