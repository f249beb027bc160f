// Command attackfigures measures what the memory and connection attacks of
// the security review cost a wampd binary: its peak resident memory
// (VmHWM) during each attack, and the call latency a healthy client sees
// meanwhile. It runs each attack against a fresh wampd process listening
// on 127.0.0.1 only, so two builds (before and after a change) can be
// compared on one machine:
//
//	go build -o /tmp/wampd.new ./cmd/wampd
//	go run ./integration/cmd/attackfigures -wampd /tmp/wampd.new
//
// The attacks are those of the integration security suite, at the sizes
// the review used; see attacks below. The figures are measurements of
// one machine, not pass/fail results: the suite's tests assert the
// bounds, this program reports them.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

type attack struct {
	name   string
	config string                              // wampd YAML (listeners are added)
	nofile int                                 // RLIMIT_NOFILE of wampd, 0 to leave it
	run    func(ctx context.Context, w *wampd) // the attack; returns when done
}

var attacks = []attack{
	{name: "compression-bomb", config: "websocket:\n  enable_compression: true\n", run: compressionBomb},
	{name: "retained-1000x960KiB", run: retained},
	{name: "stalled-subscriber-2000x960KiB", run: stalledSubscriber},
	{name: "decode-4x16MiB-default-limits", run: decodeAmplification},
	{name: "decode-4x16MiB-16MiB-limit", config: "max_message_size: 16777216\n", run: decodeAmplification},
	{name: "idle-http-5000", nofile: 4096, run: idleHTTP},
}

func main() {
	bin := flag.String("wampd", "", "the wampd binary to attack")
	only := flag.String("attack", "", "run only the attacks whose names contain this")
	flag.Parse()
	if *bin == "" {
		log.Fatal("attackfigures: -wampd is required")
	}
	fmt.Printf("%-34s %12s %12s %10s %10s %10s %8s\n", "attack", "peak RSS", "base RSS", "p50", "p99", "max", "failed")
	for _, a := range attacks {
		if !strings.Contains(a.name, *only) {
			continue
		}
		r, err := measure(*bin, a)
		if err != nil {
			fmt.Printf("%-34s error: %v\n", a.name, err)
			continue
		}
		fmt.Printf("%-34s %9.1f MiB %9.1f MiB %10v %10v %10v %4d/%-4d\n", a.name, r.peak, r.base,
			r.p50, r.p99, r.max, r.failed, r.calls)
	}
}

type result struct {
	peak, base    float64 // MiB
	p50, p99, max time.Duration
	calls, failed int
}

// wampd is a running wampd process.
type wampd struct {
	cmd    *exec.Cmd
	wsURL  string // ws://127.0.0.1:port/ws
	rsAddr string // 127.0.0.1:port
}

func measure(bin string, a attack) (result, error) {
	w, err := start(bin, a)
	if err != nil {
		return result{}, err
	}
	defer w.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h, err := startHealthy(ctx, w)
	if err != nil {
		return result{}, err
	}
	time.Sleep(200 * time.Millisecond)
	base := rss(w.cmd.Process.Pid, "VmRSS")
	a.run(ctx, w)
	time.Sleep(500 * time.Millisecond) // let the router settle after the attack
	lat := h.stop()
	r := result{peak: rss(w.cmd.Process.Pid, "VmHWM"), base: base}
	r.calls, r.failed = len(lat.ok)+lat.failed, lat.failed
	if len(lat.ok) > 0 {
		slices.Sort(lat.ok)
		r.p50 = lat.ok[len(lat.ok)/2].Round(time.Microsecond)
		r.p99 = lat.ok[len(lat.ok)*99/100].Round(time.Microsecond)
		r.max = lat.ok[len(lat.ok)-1].Round(time.Microsecond)
	}
	return r, nil
}

// start runs bin with a.config on 127.0.0.1 ports the system picks.
func start(bin string, a attack) (*wampd, error) {
	dir, err := os.MkdirTemp("", "attackfigures")
	if err != nil {
		return nil, err
	}
	cfg := a.config
	if !strings.Contains(cfg, "websocket:") {
		cfg += "websocket:\n"
	}
	cfg = strings.Replace(cfg, "websocket:\n", "websocket:\n  address: 127.0.0.1:0\n", 1)
	cfg += "rawsocket:\n  address: 127.0.0.1:0\nlog:\n  format: json\n  level: warn\n"
	path := filepath.Join(dir, "wampd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	args := []string{"-config", path, "-log-level", "info"}
	var cmd *exec.Cmd
	if a.nofile > 0 {
		cmd = exec.Command("prlimit", append([]string{"--nofile=" + strconv.Itoa(a.nofile), bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &wampd{cmd: cmd}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && (w.wsURL == "" || w.rsAddr == "") {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["msg"] != "listening" {
			continue
		}
		switch line["transport"] {
		case "websocket":
			w.wsURL, _ = line["url"].(string)
		case "rawsocket":
			if addr, ok := line["address"].(string); ok {
				w.rsAddr = addr
			}
		}
	}
	go io.Copy(io.Discard, stderr)
	if w.wsURL == "" || w.rsAddr == "" {
		w.stop()
		return nil, fmt.Errorf("wampd did not say where it listens")
	}
	return w, nil
}

func (w *wampd) stop() {
	w.cmd.Process.Kill()
	w.cmd.Wait()
}

// rss returns a field of /proc/pid/status in MiB.
func rss(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return -1
}

// healthy is a caller and a callee that call an echo procedure every 5
// ms while an attack runs; they join before it starts.
type healthy struct {
	stopc chan struct{}
	done  chan latencies
}

type latencies struct {
	ok     []time.Duration
	failed int
}

func dialHealthy(ctx context.Context, w *wampd) (*client.Client, error) {
	cfg := client.Config{Realm: "realm1", Serializer: serialize.MessagePack, ResponseTimeout: 2 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}
	return client.Dial(ctx, "tcp://"+w.rsAddr, cfg)
}

func startHealthy(ctx context.Context, w *wampd) (*healthy, error) {
	callee, err := dialHealthy(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("healthy callee: %w", err)
	}
	if _, err := callee.Register(ctx, "com.healthy.echo", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		return nil, err
	}
	caller, err := dialHealthy(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("healthy caller: %w", err)
	}
	h := &healthy{stopc: make(chan struct{}), done: make(chan latencies, 1)}
	go func() {
		defer callee.Close()
		defer caller.Close()
		var l latencies
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.stopc:
				h.done <- l
				return
			case <-t.C:
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			t0 := time.Now()
			_, err := caller.Call(cctx, "com.healthy.echo", 1)
			cancel()
			if err != nil {
				l.failed++
				continue
			}
			l.ok = append(l.ok, time.Since(t0))
		}
	}()
	return h, nil
}

func (h *healthy) stop() latencies {
	close(h.stopc)
	return <-h.done
}

// rawSocket is a hostile RawSocket client that writes frames by hand.
type rawSocket struct {
	c     net.Conn
	codec serialize.Codec
}

func dialRaw(ctx context.Context, addr string, ser serialize.Serializer) (*rawSocket, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{0x7F, 0xF0 | byte(ser), 0, 0}); err != nil {
		return nil, err
	}
	var rep [4]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		return nil, err
	}
	return &rawSocket{c: c, codec: ser.Codec()}, nil
}

func (r *rawSocket) write(m protocol.Message) error {
	b, err := r.codec.Encode(nil, m)
	if err != nil {
		return err
	}
	return r.writeFrame(b)
}

func (r *rawSocket) writeFrame(b []byte) error {
	hdr := []byte{0, byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}
	if len(b) >= 1<<24 {
		hdr = []byte{0x08, 0, 0, 0}
	}
	_, err := r.c.Write(append(hdr, b...))
	return err
}

func (r *rawSocket) read() (protocol.Message, error) {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r.c, hdr[:]); err != nil {
			return nil, err
		}
		n := int(binary.BigEndian.Uint32(hdr[:]) & 0xFFFFFF)
		b := make([]byte, n)
		if _, err := io.ReadFull(r.c, b); err != nil {
			return nil, err
		}
		if hdr[0]&0x07 != 0 {
			continue // ping, pong
		}
		return r.codec.Decode(b)
	}
}

func (r *rawSocket) join() error {
	roles := protocol.Dict{"publisher": protocol.Dict{}, "subscriber": protocol.Dict{}, "caller": protocol.Dict{}}
	if err := r.write(&protocol.Hello{Realm: "realm1", Details: protocol.Dict{"roles": roles}}); err != nil {
		return err
	}
	m, err := r.read()
	if err != nil {
		return err
	}
	if m.Type() != protocol.TypeWelcome {
		return fmt.Errorf("got %v, want WELCOME", m.Type())
	}
	return nil
}

// publishAll publishes n acknowledged events of size bytes with opts,
// each to topic(i), waiting for each PUBLISHED.
func publishAll(ctx context.Context, w *wampd, n, size int, opts protocol.Dict, topic func(int) protocol.URI) {
	r, err := dialRaw(ctx, w.rsAddr, serialize.MessagePack)
	if err != nil || r.join() != nil {
		log.Printf("publisher: %v", err)
		return
	}
	defer r.c.Close()
	payload := make([]byte, size)
	o := protocol.Dict{"acknowledge": true}
	for k, v := range opts {
		o[k] = v
	}
	for i := range n {
		if ctx.Err() != nil {
			return
		}
		if err := r.write(&protocol.Publish{Request: protocol.ID(i + 1), Options: o, Topic: topic(i), Args: protocol.List{payload}}); err != nil {
			return
		}
		if _, err := r.read(); err != nil {
			return
		}
	}
}

// retained: an anonymous session retains 1000 events of 960 KiB, each on
// a topic of its own, and leaves (security review item 3).
func retained(ctx context.Context, w *wampd) {
	publishAll(ctx, w, 1000, 960<<10, protocol.Dict{"retain": true}, func(i int) protocol.URI {
		return protocol.URI("com.attack.retained." + strconv.Itoa(i))
	})
}

// stalledSubscriber: a subscriber stops reading while 2000 events of
// 960 KiB are published to it (security review item 3).
func stalledSubscriber(ctx context.Context, w *wampd) {
	s, err := dialRaw(ctx, w.rsAddr, serialize.MessagePack)
	if err != nil || s.join() != nil {
		log.Printf("subscriber: %v", err)
		return
	}
	defer s.c.Close()
	s.write(&protocol.Subscribe{Request: 1, Options: protocol.Dict{}, Topic: "com.attack.stalled"})
	s.read()
	// From here on the subscriber reads nothing.
	publishAll(ctx, w, 2000, 960<<10, nil, func(int) protocol.URI { return "com.attack.stalled" })
}

// decodeAmplification: four clients at once send a 16 MiB MessagePack
// CALL whose arguments are one-byte integers (security review item 5).
func decodeAmplification(ctx context.Context, w *wampd) {
	const size = 16<<20 - 64
	// [48, 1, {}, "com.x", [1, 1, ...]] with an array32 of fixints.
	head := []byte{0x95, 0x30, 0x01, 0x80, 0xa5, 'c', 'o', 'm', '.', 'x', 0xdd}
	n := size - len(head) - 4
	frame := make([]byte, 0, size)
	frame = append(frame, head...)
	frame = binary.BigEndian.AppendUint32(frame, uint32(n))
	for range n {
		frame = append(frame, 0x01)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			r, err := dialRaw(ctx, w.rsAddr, serialize.MessagePack)
			if err != nil || r.join() != nil {
				return
			}
			defer r.c.Close()
			r.writeFrame(frame)
			r.c.SetReadDeadline(time.Now().Add(30 * time.Second))
			r.read() // ABORT, an error, or the close
		})
	}
	wg.Wait()
}

// compressionBomb: a WebSocket client with permessage-deflate sends a
// JSON PUBLISH that inflates to 512 MiB (security review item 2).
func compressionBomb(ctx context.Context, w *wampd) {
	d := websocket.Dialer{EnableCompression: true, Subprotocols: []string{"wamp.2.json"}}
	c, _, err := d.DialContext(ctx, w.wsURL, nil)
	if err != nil {
		log.Printf("bomb: %v", err)
		return
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte(`[1,"realm1",{"roles":{"publisher":{}}}]`))
	c.ReadMessage()
	c.EnableWriteCompression(true)
	wr, err := c.NextWriter(websocket.TextMessage)
	if err != nil {
		return
	}
	wr.Write([]byte(`[16,1,{},"com.bomb",["`))
	chunk := []byte(strings.Repeat("A", 1<<20))
	for range 512 {
		if _, err := wr.Write(chunk); err != nil {
			break
		}
	}
	wr.Write([]byte(`"]]`))
	wr.Close()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	c.ReadMessage()
}

// idleHTTP: 5000 keep-alive connections each make one GET /healthz and
// stay open (security review item 4); wampd runs with 4096 open files.
// The healthy client, from another address, must still get in.
func idleHTTP(ctx context.Context, w *wampd) {
	host := strings.TrimSuffix(strings.TrimPrefix(w.wsURL, "ws://"), "/ws")
	var held atomic.Int64
	var conns []net.Conn
	for range 5000 {
		c, err := net.DialTimeout("tcp", host, 2*time.Second)
		if err != nil {
			continue
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		c.SetReadDeadline(time.Now().Add(time.Second))
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil && resp.StatusCode == 200 {
			held.Add(1)
		}
	}
	// A new client meanwhile, from another address.
	joined := "joined"
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", w.rsAddr)
	if err == nil {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		r := &rawSocket{c: c, codec: serialize.MessagePack.Codec()}
		if _, err = c.Write([]byte{0x7F, 0xF0 | byte(serialize.MessagePack), 0, 0}); err == nil {
			var rep [4]byte
			if _, err = io.ReadFull(c, rep[:]); err == nil {
				err = r.join()
			}
		}
		c.Close()
	}
	if err != nil {
		joined = err.Error()
	}
	fmt.Fprintf(os.Stderr, "idle-http: %d of 5000 connections answered /healthz; a new client from 127.0.0.2: %s\n",
		held.Load(), joined)
	for _, c := range conns {
		c.Close()
	}
}
