// Package app wires one remediator run: the configuration, the clients, the
// remediation, the Kubernetes Event and the CloudEvent. It holds the exit
// code contract of the program.
package app
