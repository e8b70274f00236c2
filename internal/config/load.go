package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"
)

// Load reads the configuration of the given mode ("" or ModeSweep) from the
// environment and validates it. The error lists every problem found,
// unknown REMEDIATOR_ variables included.
func Load(mode string) (Config, error) {
	c := Config{Mode: mode}
	if err := envconfig.Process(Prefix, &c); err != nil {
		return c, fmt.Errorf("reading the environment: %w", err)
	}
	return c, errors.Join(append(unknownVariables(os.Environ()), c.Validate())...)
}

const usageFormat = `{{range .}}{{usage_key .}}	{{usage_default .}}	{{usage_description .}}
{{end}}`

// Usage writes the variables, their defaults and descriptions.
func Usage(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tDESCRIPTION")
	if err := envconfig.Usagef(Prefix, &Config{}, tw, usageFormat); err != nil {
		return err
	}
	return tw.Flush()
}

func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%q is not a boolean (true or false)", s)
	}
	return b, nil
}

func parseInt(s string) (int, error) {
	i, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return i, nil
}
