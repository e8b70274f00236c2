package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// regularFile checks that path names an existing regular file (a mounted
// Secret's symlink is followed).
func regularFile(path string) error {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%q does not exist", path)
	case err != nil:
		return fmt.Errorf("%q cannot be read: %w", path, err)
	case !info.Mode().IsRegular():
		return fmt.Errorf("%q is not a regular file", path)
	}
	return nil
}

// tokenFile checks that path holds a token, without ever printing it.
func tokenFile(path string) error {
	if err := regularFile(path); err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%q cannot be read: %w", path, err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return fmt.Errorf("%q is empty", path)
	}
	return nil
}
