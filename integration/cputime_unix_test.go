//go:build unix

package integration

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user + system) the process has used so
// far. Benchmarks report it per operation: unlike elapsed time, it does not
// grow when other processes compete for the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
