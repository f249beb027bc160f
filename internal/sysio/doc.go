// Package sysio reads and writes sockets without waking the Go runtime's
// sysmon thread: Read and Write make the read(2) and write(2) of a
// non-blocking socket with syscall.RawSyscall on Linux (see Read for why),
// and Wrap gives a net.Conn whose Read and Write do so while waiting for
// the socket in the network poller, under the connection's deadlines, as
// the net package does. The transports use it for their sockets, and the
// cluster for its connection to NATS.
package sysio
