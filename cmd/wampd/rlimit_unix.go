//go:build unix

package main

import "syscall"

// fdLimit returns the process's limit of open files (RLIMIT_NOFILE, as the
// Go runtime raised it at start), or 0 if it is unknown.
func fdLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return uint64(rl.Cur)
}
