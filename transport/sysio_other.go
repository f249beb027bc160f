//go:build unix && !linux

package transport

import "syscall"

// sysRead is read(2) on a non-blocking socket (see sysio_linux.go): here
// the scheduler is told, as by the net package.
func sysRead(fd int, b []byte) (int, error) { return syscall.Read(fd, b) }

// sysWrite is write(2) on a non-blocking socket (see sysRead).
func sysWrite(fd int, b []byte) (int, error) { return syscall.Write(fd, b) }
