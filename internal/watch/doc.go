// Package watch is what `remediator watch` adds to the sweep it runs
// periodically: it counts every remediator run's rescues from the
// Kubernetes Events the runs write (the Sensor's short-lived Jobs included,
// whose own memory is gone when they exit), and follows each rescued
// workflow to its end to time the recovery.
package watch
