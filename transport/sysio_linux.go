//go:build linux && !race

package transport

import (
	"syscall"
	"unsafe"
)

// sysRead and sysWrite are read(2) and write(2) on a non-blocking socket,
// made without telling the Go scheduler (syscall.RawSyscall, not
// syscall.Syscall): such a call never blocks, and telling the scheduler
// is what costs. When every P of the process is idle between messages,
// as in a lone round trip, sysmon sleeps until woken, and every
// syscall.Syscall wakes it (runtime.entersyscall): a futex wake-up, two
// context switches and a 20 µs nanosleep per system call, which on a VM
// cost more router CPU than the reads and writes themselves (issue #14).
// With the race detector the plain calls are used (sysio_other.go), so
// that it sees the synchronisation through the socket.
func sysRead(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// sysWrite: see sysRead.
func sysWrite(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}
