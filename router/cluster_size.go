package router

import "github.com/wampkit/wampkit/protocol"

// MessageSize estimates the bytes m holds in memory, as the router
// counts them against its byte bounds (a session's outbound backlog,
// retained events, event history): its arguments, keyword arguments and
// details or options, roughly as they sit on the Go heap whatever
// serializer they came from, plus a fixed part. A [Cluster] bounds with
// it what it holds for other nodes, so that nothing a peer sends makes a
// node hold more than a bound in bytes. It reads m and keeps nothing.
func MessageSize(m protocol.Message) int {
	switch m := m.(type) {
	case *protocol.Call:
		return messageOverhead + payloadSize(m.Args, m.Kwargs) + dictSize(m.Options)
	case *protocol.Yield:
		return messageOverhead + payloadSize(m.Args, m.Kwargs) + dictSize(m.Options)
	case *protocol.Cancel:
		return messageOverhead + dictSize(m.Options)
	case *protocol.Interrupt:
		return messageOverhead + dictSize(m.Options)
	}
	return messageSize(m)
}
