package transport

import (
	"io"
	"sync"
)

// readChunk is the size of the pooled buffers a network peer reads into
// while data keeps coming.
const readChunk = 32 << 10

// peekBuffer is the size of the bufio.Reader in front of a network peer's
// connection (RawSocket's frame reader, gorilla's for WebSocket): enough
// for a frame header and a small message, and all an idle peer holds.
const peekBuffer = 512

// readBuffers holds the buffers of poolReader.
var readBuffers = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// poolReader reads from r for a small bufio.Reader in front of it, so
// that an idle peer holds no large read buffer while a busy one still
// reads many messages per system call. A read that waits for data reads
// straight into the caller's (small) buffer; when a read filled its
// buffer, more data is probably waiting, and the next read takes a
// readChunk buffer from readBuffers, which is handed out piece by piece
// and given back as soon as it is empty.
type poolReader struct {
	r    io.Reader
	bp   *[]byte // the pooled buffer of b; nil when b is empty
	b    []byte  // read, not yet handed out
	err  error   // the error of the read that filled b, for after it
	full bool    // the last read filled its buffer
}

// Read implements io.Reader.
func (r *poolReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 && r.err == nil && r.full && len(p) < readChunk {
		r.bp = readBuffers.Get().(*[]byte)
		buf := *r.bp
		n, err := r.r.Read(buf)
		r.full = n == len(buf)
		r.b, r.err = buf[:n], err
	}
	if len(r.b) > 0 {
		n := copy(p, r.b)
		r.b = r.b[n:]
		if len(r.b) == 0 {
			r.release()
		}
		return n, nil
	}
	r.release()
	if err := r.err; err != nil {
		r.err = nil // a deadline error is not for good (RecvContext)
		return 0, err
	}
	n, err := r.r.Read(p)
	r.full = n == len(p)
	return n, err
}

// release gives the buffer back.
func (r *poolReader) release() {
	if r.bp != nil {
		readBuffers.Put(r.bp)
		r.bp, r.b = nil, nil
	}
}
