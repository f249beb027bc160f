//go:build linux

package sysio

import (
	"syscall"
	"unsafe"
)

// Read is read(2) on a non-blocking socket. It is made without telling
// the Go scheduler (rawRead: syscall.RawSyscall, not syscall.Syscall):
// such a call never blocks, and telling the scheduler is what costs. When
// every P of the process is idle between messages, as in a lone round
// trip, the runtime's sysmon thread sleeps until woken, and every
// syscall.Syscall wakes it (runtime.entersyscall): a futex wake-up, two
// context switches and a 20 µs nanosleep per system call, which on a VM
// cost more router CPU than the reads and writes themselves.
//
// Built with the race detector, the plain call is made: the race
// detector sees the synchronisation through a socket between goroutines
// of one process (a test's client and router) only in syscall.Read and
// syscall.Write.
func Read(fd int, b []byte) (int, error) {
	if raceBuild {
		return syscall.Read(fd, b)
	}
	return rawRead(fd, b)
}

// Write is write(2) on a non-blocking socket; see Read.
func Write(fd int, b []byte) (int, error) {
	if raceBuild {
		return syscall.Write(fd, b)
	}
	return rawWrite(fd, b)
}

// rawRead is read(2) by syscall.RawSyscall; fd must not block.
func rawRead(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// rawWrite is write(2) by syscall.RawSyscall; fd must not block.
func rawWrite(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}
