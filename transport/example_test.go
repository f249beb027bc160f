package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

// echo is a Handler that sends every message back.
func echo(p transport.Peer) {
	for {
		m, err := p.Recv()
		if err != nil {
			return
		}
		if err := p.Send(context.Background(), m); err != nil {
			return
		}
	}
}

// ExampleRawSocketServer serves RawSocket on a TCP listener and dials it
// with MessagePack.
func ExampleRawSocketServer() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &transport.RawSocketServer{Handler: echo}
	go srv.Serve(l)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := transport.DialRawSocket(ctx, "tcp", l.Addr().String(),
		transport.RawSocketDialConfig{Serializer: serialize.MessagePack})
	if err != nil {
		panic(err)
	}
	defer p.Close(nil)

	_ = p.Send(ctx, &protocol.Publish{Request: 1, Options: protocol.Dict{"acknowledge": true}, Topic: "com.example.topic"})
	m, _ := p.Recv()
	fmt.Println(m.(*protocol.Publish).Topic)
	fmt.Println(p.(transport.Detailer).TransportDetails()["serializer"])
	// Output:
	// com.example.topic
	// msgpack
}

// ExampleWebSocketServer mounts the WebSocket transport on a mux and dials
// it with the batched JSON sub-protocol.
func ExampleWebSocketServer() {
	ws := &transport.WebSocketServer{Handler: echo}
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	defer ws.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	p, err := transport.DialWebSocket(ctx, url, transport.WebSocketDialConfig{Batched: true})
	if err != nil {
		panic(err)
	}
	defer p.Close(nil)

	_ = p.Send(ctx, &protocol.Call{Request: 7, Options: protocol.Dict{"k": "v"}, Procedure: "com.example.add", Args: protocol.List{int64(2), int64(3)}})
	m, _ := p.Recv()
	fmt.Println(m.(*protocol.Call).Procedure, m.(*protocol.Call).Args)
	fmt.Println(p.(transport.Detailer).TransportDetails()["protocol"])
	// Output:
	// com.example.add [2 3]
	// wamp.2.json.batched
}

// ExampleRecverContext bounds the wait for a client's HELLO without
// closing the peer: the deadline interrupts the receive, and the router
// side itself tells the client why before it closes the link.
func ExampleRecverContext() {
	routerEnd, clientEnd := transport.LocalPair(0)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := routerEnd.(transport.RecverContext).RecvContext(ctx) // the client says nothing
	fmt.Println(errors.Is(err, context.DeadlineExceeded), errors.Is(err, transport.ErrClosed))
	_ = routerEnd.Send(context.Background(), &protocol.Abort{Details: protocol.Dict{}, Reason: protocol.ErrTimeout})
	_ = routerEnd.Close(nil)

	m, _ := clientEnd.Recv()
	fmt.Println(m.(*protocol.Abort).Reason)
	_, err = clientEnd.Recv()
	fmt.Println(errors.Is(err, transport.ErrClosed))
	// Output:
	// true false
	// wamp.error.timeout
	// true
}
