package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// rawPeer is a Peer over a RawSocket connection.
type rawPeer struct {
	peerCore // its maxSend is the other end's announced maximum

	// Reader side, used only by the goroutine calling Recv.
	br *bufio.Reader
	pr poolReader // what br reads from

	// Writer side, used only by the holder of the right to write.
	seq uint32
	// rest is what an inline write left unwritten, in restBuf (from
	// writeBuffers); writeBlocking writes it first.
	rest    []byte
	restBuf *[]byte
}

var (
	_ Peer     = (*rawPeer)(nil)
	_ Detailer = (*rawPeer)(nil)
)

func newRawPeer(c net.Conn, cfg PeerConfig, ser serialize.Serializer, maxSend int64, details protocol.Dict) *rawPeer {
	p := &rawPeer{}
	p.pongs = make(chan []byte, 4)
	p.init(c, p, newFDWriter(c, cfg.WriteTimeout), cfg, ser, min(maxSend, rawMaxLength), details)
	p.pr.r = idleConn{Conn: c, r: newFDReader(c), core: &p.peerCore, idle: cfg.idleTimeout()}
	p.br = bufio.NewReaderSize(&p.pr, peekBuffer)
	return p
}

// Recv implements Peer. It reads and decodes on the calling goroutine and
// answers PINGs on the way. A message that does not decode is returned as
// an error wrapping protocol.ErrMalformed, and the connection stays up; the
// caller decides (usually ABORT with wamp.error.protocol_violation). Framing
// errors, a frame over the limit and a truncated frame fail the connection.
func (p *rawPeer) Recv() (protocol.Message, error) {
	return p.recv(nil)
}

// RecvContext implements RecverContext.
func (p *rawPeer) RecvContext(ctx context.Context) (protocol.Message, error) {
	return p.recvContext(ctx, p.recv)
}

// recv is Recv; a PONG waiting for room gives up when done ends.
func (p *rawPeer) recv(done <-chan struct{}) (protocol.Message, error) {
	for {
		if err := p.recvDone(); err != nil {
			return nil, err
		}
		hdr, err := p.br.Peek(4)
		if err != nil {
			if len(hdr) > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, p.readFailed(err)
		}
		h0 := hdr[0]
		n := int64(hdr[1])<<16 | int64(hdr[2])<<8 | int64(hdr[3])
		if h0&0xF0 != 0 {
			return nil, p.failRead(fmt.Errorf("%w: reserved bits set in frame header 0x%02x", ErrProtocol, h0))
		}
		if h0&0x08 != 0 {
			if n != 0 {
				return nil, p.failRead(fmt.Errorf("%w: X bit with non-zero length", ErrProtocol))
			}
			n = rawMaxLength
		}
		if n > p.cfg.MaxMessageSize {
			return nil, p.failRead(fmt.Errorf("%w: frame of %d bytes, limit %d", ErrMessageTooBig, n, p.cfg.MaxMessageSize))
		}
		typ := h0 & 0x07
		if typ > framePong {
			return nil, p.failRead(fmt.Errorf("%w: reserved frame type %d", ErrProtocol, typ))
		}
		_, _ = p.br.Discard(4)
		payload, bp, err := p.readPayload(int(n))
		if err != nil {
			return nil, p.readFailed(err)
		}
		switch typ {
		case frameMessage:
			m, err := p.codec.Decode(payload)
			releasePayload(bp, payload)
			if err != nil {
				return nil, fmt.Errorf("transport: rawsocket: %w", err)
			}
			return m, nil
		case framePing:
			echo := append([]byte(nil), payload...)
			releasePayload(bp, payload)
			select {
			case p.pongs <- echo:
			case <-p.closing:
				return nil, p.closedErr()
			case <-done:
				return nil, errInterrupted
			}
			p.kick()
		case framePong:
			// Nothing to do: any data read proves the other end alive.
			releasePayload(bp, payload)
		}
	}
}

// readPayload returns the next n bytes, valid until the next read: in
// the reader's buffer, or, when larger, in a buffer of frameBuffers, which
// bp is then and the caller gives back with releasePayload once done with
// them (decoding copies what it keeps).
func (p *rawPeer) readPayload(n int) (b []byte, bp *[]byte, err error) {
	if n <= p.br.Size() {
		b, err := p.br.Peek(n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, err
		}
		_, _ = p.br.Discard(n)
		return b, nil, nil
	}
	bp = getBuffer(&frameBuffers)
	b = slices.Grow((*bp)[:0], n)[:n]
	if _, err := io.ReadFull(p.br, b); err != nil {
		releasePayload(bp, b)
		if errors.Is(err, io.EOF) { // the header promised a payload
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, err
	}
	return b, bp, nil
}

// releasePayload gives back the buffer of a payload readPayload returned,
// if it has one.
func releasePayload(bp *[]byte, b []byte) {
	if bp != nil {
		putBuffer(&frameBuffers, bp, b, maxPooledFrame)
	}
}

// readFailed turns a read error into Recv's error: errInterrupted for an
// interruption by RecvContext, else that of the failed connection.
func (p *rawPeer) readFailed(err error) error {
	if p.interruptedRead(err) {
		return errInterrupted
	}
	return p.failRead(p.readErr(err))
}

// readErr turns a read error into the close reason.
func (p *rawPeer) readErr(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: nothing received for %v", ErrKeepAlive, p.cfg.idleTimeout())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("transport: rawsocket: truncated frame: %w", err)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("transport: rawsocket: connection closed by peer: %w", err)
	}
	return fmt.Errorf("transport: rawsocket read: %w", err)
}

// writeInline implements connWriter: the PONGs and the keep-alive PING
// due and frames of up to flushSize/2 bytes in all, in one write that does
// not block.
func (p *rawPeer) writeInline() (bool, error) {
	bp := getBuffer(&writeBuffers)
	b := p.appendControl(*bp)
	var batch [writeBatch]frame
	fs := p.q.take(batch[:0], flushSize/2, false)
	for i := range fs {
		b = append(appendFrameHeader(b, frameMessage, len(fs[i].b)), fs[i].b...)
	}
	p.q.release(fs)
	if len(b) == 0 {
		// Nothing fits: the next frame is too large to copy here.
		putBuffer(&writeBuffers, bp, b, maxPooledWrite)
		return true, nil
	}
	n, err := tryWrite(p.rc, b)
	if err != nil {
		putBuffer(&writeBuffers, bp, b, maxPooledWrite)
		return false, fmt.Errorf("transport: rawsocket write: %w", err)
	}
	if n < len(b) {
		p.rest, p.restBuf = b[n:], bp
		*bp = b
		return true, nil
	}
	putBuffer(&writeBuffers, bp, b, maxPooledWrite)
	return false, nil
}

// writeBlocking implements connWriter.
func (p *rawPeer) writeBlocking() (int, error) {
	n := 0
	if p.rest != nil {
		err := p.flush(p.rest, nil)
		putBuffer(&writeBuffers, p.restBuf, *p.restBuf, maxPooledWrite)
		p.rest, p.restBuf = nil, nil
		if err != nil {
			return 0, fmt.Errorf("transport: rawsocket write: %w", err)
		}
		n++
	}
	k, err := p.write()
	if err != nil {
		return n + k, fmt.Errorf("transport: rawsocket write: %w", err)
	}
	return n + k, nil
}

// finish implements connWriter: RawSocket has no close frame.
func (p *rawPeer) finish(bool) {
	_ = p.conn.Close()
}

// write writes the PONGs and the keep-alive PING due, and queued frames up
// to about flushSize bytes, all in one network write: frames are copied
// into a pooled write buffer, except for a frame larger than half of
// flushSize, which is written from where it is, with what precedes it, in
// one vectored write. It returns how many queued frames it wrote.
func (p *rawPeer) write() (int, error) {
	bp := getBuffer(&writeBuffers)
	b := p.appendControl(*bp)
	var batch [writeBatch]frame
	written := 0
	var err error
	for err == nil && len(b) < flushSize {
		b = p.appendPongs(b)
		fs := p.q.take(batch[:0], flushSize-len(b), true)
		if len(fs) == 0 {
			break
		}
		for i := 0; i < len(fs) && err == nil; i++ {
			data := fs[i].b
			b = appendFrameHeader(b, frameMessage, len(data))
			if len(data) <= flushSize/2 {
				b = append(b, data...)
				continue
			}
			err = p.flush(b, data)
			b = b[:0]
		}
		written += len(fs)
		p.q.release(fs)
	}
	if err == nil {
		err = p.flush(b, nil)
	}
	putBuffer(&writeBuffers, bp, b, maxPooledWrite)
	return written, err
}

// appendControl appends the PONGs waiting and the keep-alive PING, if due.
func (p *rawPeer) appendControl(b []byte) []byte {
	b = p.appendPongs(b)
	if p.takePing() {
		p.seq++
		s := p.seq
		b = append(appendFrameHeader(b, framePing, 4), byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
	}
	return b
}

// appendPongs appends a PONG for every PING payload waiting.
func (p *rawPeer) appendPongs(b []byte) []byte {
	for {
		select {
		case pl := <-p.pongs:
			b = append(appendFrameHeader(b, framePong, len(pl)), pl...)
		default:
			return b
		}
	}
}

// flush writes b and then data in one write (a vectored one when data is
// not empty), under the write deadline.
func (p *rawPeer) flush(b, data []byte) error {
	if len(b) == 0 && len(data) == 0 {
		return nil
	}
	_ = p.conn.SetWriteDeadline(p.writeDeadline())
	if len(data) == 0 {
		_, err := p.conn.Write(b)
		return err
	}
	bufs := net.Buffers{b, data}
	_, err := bufs.WriteTo(p.conn)
	return err
}
