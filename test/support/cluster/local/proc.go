package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process inspection through /proc (Linux).

// cmdline returns the arguments of pid, or nil if it is gone or a zombie.
func cmdline(pid int) []string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	// The state follows the parenthesized command name, which may contain spaces.
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
		return nil
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(raw) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
}

// isDaemon reports whether pid is a running localcluster daemon.
func isDaemon(pid int) bool {
	args := cmdline(pid)
	return len(args) > 1 && args[1] == daemonArg
}

// isComponent reports whether pid runs an etcd or kube-apiserver binary.
func isComponent(pid int) bool {
	args := cmdline(pid)
	if len(args) == 0 {
		return false
	}
	name := filepath.Base(args[0])
	return name == "etcd" || name == "kube-apiserver"
}

// usesDir reports whether pid is running with an argument that names a path
// inside dir, as the etcd (--data-dir) and kube-apiserver (--cert-dir) of a
// cluster with state in dir do.
func usesDir(pid int, dir string) bool {
	for _, a := range cmdline(pid) {
		if strings.Contains(a, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// componentsUsing lists the pids of etcd and kube-apiserver processes that use
// dir: orphans of a daemon that died, found even without pid files.
func componentsUsing(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && isComponent(pid) && usesDir(pid, dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// childrenRunning returns, by name, the pids of the children of this process
// whose executable is one of the given paths (name -> path).
func childrenRunning(paths map[string]string) map[string]int {
	entries, _ := os.ReadDir("/proc")
	found := map[string]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || parentOf(pid) != os.Getpid() {
			continue
		}
		args := cmdline(pid)
		for name, path := range paths {
			if len(args) > 0 && args[0] == path {
				found[name] = pid
			}
		}
	}
	return found
}

func parentOf(pid int) int {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(stat[i+1:])) // state, ppid, ...
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// readPID reads a pid file; ok is false if it is missing or malformed.
func readPID(path string) (pid int, ok bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
	return pid, err == nil && pid > 0
}

func writePID(path string, pid int) error {
	return writeFileAtomic(path, []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// terminate sends SIGTERM to pid while still(pid) holds, waits up to timeout
// for it to go away, then sends SIGKILL and waits a little more.
func terminate(pid int, still func(int) bool, timeout time.Duration) error {
	if !still(pid) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(pid, still, timeout) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if waitGone(pid, still, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("process %d did not exit after SIGKILL", pid)
}

func waitGone(pid int, still func(int) bool, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if !still(pid) {
			return true
		}
	}
	return !still(pid)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// tail returns the last n lines of the file at path, or a note that it is unreadable.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(no " + path + ")"
		}
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
