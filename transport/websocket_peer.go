package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// wsPeer is a Peer over a WebSocket connection.
type wsPeer struct {
	peerCore
	ws      *websocket.Conn
	cork    *corkConn // the connection under ws, when we made it; may be nil
	batched bool
	msgType int // websocket.TextMessage for JSON, else BinaryMessage

	// Reader side, used only by the goroutine calling Recv.
	rbuf    []byte   // the message being read, in rbp (from frameBuffers)
	rbp     *[]byte  // nil between messages
	pending [][]byte // rest of a batch, aliasing rbuf
}

// wsWriteBuffers holds gorilla's write buffers, which a connection takes
// only while it writes a message.
var wsWriteBuffers sync.Pool

var (
	_ Peer     = (*wsPeer)(nil)
	_ Detailer = (*wsPeer)(nil)
)

func newWSPeer(ws *websocket.Conn, cork *corkConn, cfg PeerConfig, ser serialize.Serializer, batched bool, details protocol.Dict) *wsPeer {
	p := &wsPeer{ws: ws, cork: cork, batched: batched, msgType: websocket.BinaryMessage}
	if !ser.Binary() {
		p.msgType = websocket.TextMessage
	}
	var rc *fdWriter
	if cork != nil {
		rc = cork.rc
	}
	p.init(ws.NetConn(), p, rc, cfg, ser, 0, details)
	ws.SetReadLimit(cfg.MaxMessageSize)
	if idle := cfg.idleTimeout(); idle > 0 {
		extend := func() { p.readDeadline(idle) }
		ws.SetPongHandler(func(string) error { extend(); return nil })
		ws.SetPingHandler(func(data string) error {
			extend()
			err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(cfg.WriteTimeout))
			if err == websocket.ErrCloseSent || isTimeout(err) {
				return nil
			}
			return err
		})
	}
	return p
}

// Recv implements Peer. It reads and decodes on the calling goroutine; the
// messages of a batch are returned one by one. A message that does not
// decode, or that came in a WebSocket message of the wrong kind (binary
// for JSON, text for MessagePack and CBOR), is returned as an error
// wrapping protocol.ErrMalformed and the connection stays up; a message
// over the limit, an empty batch or a close from the other end fail the
// connection.
func (p *wsPeer) Recv() (protocol.Message, error) {
	for {
		if len(p.pending) > 0 {
			b := p.pending[0]
			p.pending[0] = nil
			p.pending = p.pending[1:]
			m, err := p.codec.Decode(b)
			if len(p.pending) == 0 {
				p.releaseReadBuffer()
			}
			if err != nil {
				return nil, fmt.Errorf("transport: websocket: %w", err)
			}
			return m, nil
		}
		if err := p.recvDone(); err != nil {
			return nil, err
		}
		p.readDeadline(p.cfg.idleTimeout())
		typ, r, err := p.ws.NextReader()
		if err != nil {
			return nil, p.readFailed(err)
		}
		if typ != p.msgType {
			// The spec ties the frame type to the serializer (basic
			// "WebSocket Transport"); the rest of the message is
			// discarded unread by the next NextReader.
			return nil, p.frameTypeErr(typ)
		}
		data, err := p.readMessage(r)
		if err != nil {
			return nil, p.readFailed(err)
		}
		if !p.batched {
			m, err := p.codec.Decode(data)
			p.releaseReadBuffer()
			if err != nil {
				return nil, fmt.Errorf("transport: websocket: %w", err)
			}
			return m, nil
		}
		msgs, err := serialize.SplitJSONBatch(data)
		if err != nil {
			// An empty batch MUST fail the transport
			// (advanced/transport_batched_websocket.md); so does any
			// batch we cannot split.
			return nil, p.failRead(fmt.Errorf("%w: %w", ErrProtocol, err))
		}
		p.pending = msgs
	}
}

// RecvContext implements RecverContext.
func (p *wsPeer) RecvContext(ctx context.Context) (protocol.Message, error) {
	return p.recvContext(ctx, func(<-chan struct{}) (protocol.Message, error) { return p.Recv() })
}

// readMessage reads the rest of the WebSocket message r into p.rbuf and
// returns it. The limit applies to what r yields, which with
// permessage-deflate is the inflated message (gorilla's SetReadLimit
// counts the bytes on the wire only): reading stops at the first byte
// over the limit, so a message of a few KiB that inflates to gigabytes
// (a compression bomb) costs no more than the limit; the connection is
// then failed with ErrMessageTooBig (close 1009, sent by the writer).
func (p *wsPeer) readMessage(r io.Reader) ([]byte, error) {
	limit := p.cfg.MaxMessageSize
	if p.rbp == nil {
		p.rbp = getBuffer(&frameBuffers)
		p.rbuf = *p.rbp
	}
	b := p.rbuf[:0]
	for {
		if len(b) == cap(b) {
			// Grow by doubling, but never past limit+1 bytes.
			n := int(min(max(2*int64(cap(b)), 4096), limit+1))
			nb := make([]byte, len(b), n)
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			p.rbuf = b[:0]
			p.releaseReadBuffer()
			return nil, errInflatedTooBig
		}
		if err == io.EOF {
			p.rbuf = b
			return b, nil
		}
		if err != nil {
			p.rbuf = b[:0]
			return nil, err
		}
	}
}

// errInflatedTooBig is readMessage's error for a message over the limit.
var errInflatedTooBig = errors.New("message over the limit")

// releaseReadBuffer gives the read buffer back once its message is
// decoded (decoding copies what it keeps): an idle peer holds none.
func (p *wsPeer) releaseReadBuffer() {
	if p.rbp != nil {
		putBuffer(&frameBuffers, p.rbp, p.rbuf, maxPooledFrame)
		p.rbp, p.rbuf = nil, nil
	}
}

// frameTypeErr describes a WebSocket message of the wrong kind for the
// sub-protocol: a malformed message, as one that does not decode.
func (p *wsPeer) frameTypeErr(typ int) error {
	got, want := "binary", "text"
	if typ == websocket.TextMessage {
		got, want = want, got
	}
	return fmt.Errorf("transport: websocket: %w: %s message on %s, which carries %s messages only",
		protocol.ErrMalformed, got, p.details["protocol"], want)
}

// readFailed turns a read error into Recv's error: errInterrupted for an
// interruption by RecvContext, else that of the failed connection.
func (p *wsPeer) readFailed(err error) error {
	if p.interruptedRead(err) {
		return errInterrupted
	}
	return p.failRead(p.readErr(err))
}

// readErr turns a read error into the close reason.
func (p *wsPeer) readErr(err error) error {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit), errors.Is(err, errInflatedTooBig):
		// gorilla has sent close 1009 already, or the writer will.
		return fmt.Errorf("%w: limit %d bytes (close 1009)", ErrMessageTooBig, p.cfg.MaxMessageSize)
	case errors.As(err, &ce):
		return fmt.Errorf("transport: websocket closed by peer: %w", err)
	case isTimeout(err):
		return fmt.Errorf("%w: nothing received for %v: %w", ErrKeepAlive, p.cfg.idleTimeout(), err)
	}
	return fmt.Errorf("transport: websocket read: %w", err)
}

// writeInline implements connWriter: queued frames of up to flushSize/2
// bytes in all, and the keep-alive ping if due, in one write that does not
// block.
func (p *wsPeer) writeInline() (bool, error) {
	p.cork.cork()
	var batch [writeBatch]frame
	fs := p.q.take(batch[:0], flushSize/2, false)
	wrote := len(fs) > 0
	err := p.writeFrames(fs)
	if err == nil && p.takePing() {
		wrote = true
		err = p.ws.WriteControl(websocket.PingMessage, nil, p.writeDeadline())
	}
	left, uerr := p.cork.tryUncork()
	if err == nil {
		err = uerr
	}
	if err != nil {
		return false, fmt.Errorf("transport: websocket write: %w", err)
	}
	return left || !wrote, nil
}

// writeBlocking implements connWriter.
func (p *wsPeer) writeBlocking() (int, error) {
	n := 0
	if p.cork.pending() {
		n++ // what an inline write left; write flushes it first
	}
	k, err := p.write()
	if err != nil {
		return n + k, fmt.Errorf("transport: websocket write: %w", err)
	}
	return n + k, nil
}

// finish implements connWriter: a close frame, if what was queued was
// written, then the connection is closed.
func (p *wsPeer) finish(flushed bool) {
	if flushed {
		p.writeClose()
	}
	_ = p.ws.Close()
}

// writeClose writes the close frame with a code and text for the close
// reason.
func (p *wsPeer) writeClose() {
	code, text := websocket.CloseNormalClosure, ""
	switch r := p.reason; {
	case r == nil:
	case errors.Is(r, ErrServerClosed):
		code = websocket.CloseGoingAway
	case errors.Is(r, ErrMessageTooBig):
		// When gorilla's read limit fired it has sent 1009 itself, and
		// this write fails with ErrCloseSent.
		code = websocket.CloseMessageTooBig
	case errors.Is(r, ErrProtocol):
		code, text = websocket.CloseProtocolError, r.Error()
	default:
		text = r.Error()
	}
	if len(text) > 123 { // a close frame's payload is at most 125 bytes
		text = text[:123]
	}
	_ = p.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), p.writeDeadline())
}

// write writes the keep-alive ping if due and the frames queued, up to
// about flushSize bytes, under one write deadline and in one network write
// (the connection is corked): each as one WebSocket message, as the spec
// requires, or batched, joined with 0x1e separators in one message. It
// returns how many frames (and pings) it wrote.
func (p *wsPeer) write() (int, error) {
	d := p.writeDeadline()
	_ = p.ws.SetWriteDeadline(d)
	_ = p.conn.SetWriteDeadline(d) // for bytes an inline write left
	var batch [writeBatch]frame
	written, total := 0, 0
	p.cork.cork()
	var err error
	if p.takePing() {
		written++
		err = p.ws.WriteControl(websocket.PingMessage, nil, d)
	}
	for err == nil && total < flushSize {
		fs := p.q.take(batch[:0], flushSize-total, true)
		if len(fs) == 0 {
			break
		}
		for i := range fs {
			total += len(fs[i].b)
		}
		written += len(fs)
		err = p.writeFrames(fs)
	}
	if uerr := p.cork.uncork(); err == nil {
		err = uerr
	}
	// gorilla sets its deadline on the connection at every message; the
	// inline writes that follow need none (see tryWrite).
	_ = p.ws.SetWriteDeadline(time.Time{})
	return written, err
}

// writeFrames writes fs, each as one WebSocket message or, batched, all
// in one, and releases them.
func (p *wsPeer) writeFrames(fs []frame) error {
	if len(fs) == 0 {
		return nil
	}
	var err error
	if p.batched {
		bp := getBuffer(&writeBuffers)
		b := *bp
		for i := range fs {
			b = serialize.AppendJSONBatch(b, fs[i].b)
		}
		err = p.ws.WriteMessage(websocket.TextMessage, b)
		putBuffer(&writeBuffers, bp, b, maxPooledWrite)
	} else {
		for i := 0; i < len(fs) && err == nil; i++ {
			err = p.ws.WriteMessage(p.msgType, fs[i].b)
		}
	}
	p.q.release(fs)
	return err
}
