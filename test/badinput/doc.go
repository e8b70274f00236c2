// Package badinput runs the real remediator binary on bad input: a catalogue
// of malformed values for every REMEDIATOR_* variable (each must exit 2,
// name the variable and contact nothing), and runs at debug level whose
// output, CloudEvents and Kubernetes Events must never carry the sink's or
// the API server's bearer token.
//
// The catalogue needs no cluster; the tests on a real kube-apiserver need
// the binaries of `make tools-cluster` and are skipped with -short.
//
// The package holds only this file and tests: go test ./test/badinput/.
package badinput
