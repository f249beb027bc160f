// Package inprocess holds runnable examples of the client (go test runs
// them and checks their output), each against a router embedded in the
// test process and reached over the in-process link: typed procedures and
// topics, a reconnecting client that survives a router restart, and
// ticket and cryptosign authentication. The code is the same over
// WebSocket or RawSocket, with client.Dial and a URL instead of
// router.Connect and client.Join.
package inprocess
