package main

import (
	"fmt"
	"io"
	"time"
)

// timeline prints steps with the time since the demo started.
type timeline struct {
	w     io.Writer
	start time.Time
}

func (t *timeline) step(format string, a ...any) {
	fmt.Fprintf(t.w, "[%6.1fs] %s\n", time.Since(t.start).Seconds(), fmt.Sprintf(format, a...))
}

func (t *timeline) detail(format string, a ...any) {
	fmt.Fprintf(t.w, "          %s\n", fmt.Sprintf(format, a...))
}
