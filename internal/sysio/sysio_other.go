//go:build unix && !linux

package sysio

import "syscall"

// Read is read(2) on a non-blocking socket (see sysio_linux.go): here
// the scheduler is told, as by the net package.
func Read(fd int, b []byte) (int, error) { return syscall.Read(fd, b) }

// Write is write(2) on a non-blocking socket (see Read).
func Write(fd int, b []byte) (int, error) { return syscall.Write(fd, b) }
