package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// DefaultBenchDuration is how long a benchmark runs when neither --count
// nor --duration is given.
const DefaultBenchDuration = 10 * time.Second

// benchFlags are the flags both benchmarks have.
type benchFlags struct {
	count       int64
	duration    time.Duration
	concurrency int
	sessions    int
	size        int
	rate        float64
	json        bool
	progress    bool
}

func (b *benchFlags) add(cmd *cobra.Command, tty bool, what string) {
	f := cmd.Flags()
	f.Int64Var(&b.count, "count", 0, "make `N` "+what+" in all, then stop")
	f.DurationVar(&b.duration, "duration", DefaultBenchDuration, "stop after this long (the default applies only without --count)")
	f.IntVar(&b.concurrency, "concurrency", 1, "how many "+what+" are in flight at once (workers)")
	f.IntVar(&b.sessions, "sessions", 1, "spread the workers over this many sessions")
	f.IntVar(&b.size, "size", 0, "add a string argument of this many `bytes` to each of the "+what)
	f.Float64Var(&b.rate, "rate", 0, "at most this many "+what+" per second, over all workers (0: as fast as possible)")
	f.BoolVar(&b.json, "json", false, "print the report as one JSON object")
	f.BoolVar(&b.progress, "progress", tty, "show a progress bar on standard error (default: when it is a terminal)")
}

// check returns a usage error for values that make no sense, and fills in
// the default duration.
func (b *benchFlags) check(cmd *cobra.Command) error {
	if b.count < 0 || b.duration < 0 || b.concurrency < 1 || b.sessions < 1 || b.size < 0 || b.rate < 0 {
		return usageErrorf("--count, --duration, --size and --rate want 0 or more, --concurrency and --sessions 1 or more")
	}
	if b.count > 0 && !cmd.Flags().Changed("duration") {
		b.duration = 0 // --count alone: no time limit
	}
	if b.count == 0 && b.duration == 0 {
		return usageErrorf("give --count or --duration")
	}
	return nil
}

// padding returns the --size argument, or nil.
func (b *benchFlags) padding() protocol.List {
	if b.size == 0 {
		return nil
	}
	return protocol.List{strings.Repeat("x", b.size)}
}

// schedule hands out the operations of a benchmark to its workers.
type schedule struct {
	count    int64     // 0: no limit
	deadline time.Time // zero: none
	rate     float64   // per second; 0: no pacing
	start    time.Time
	issued   atomic.Int64 // operations handed out
	done     atomic.Int64 // operations finished, for the progress bar
}

func newSchedule(b *benchFlags) *schedule {
	s := &schedule{count: b.count, rate: b.rate, start: time.Now()}
	if b.duration > 0 {
		s.deadline = s.start.Add(b.duration)
	}
	return s
}

// next reports whether the worker may start one more operation, after
// waiting for its turn when a rate is set. It returns false once the
// count is reached, the deadline has passed or ctx has ended.
func (s *schedule) next(ctx context.Context) bool {
	i := s.issued.Add(1) - 1
	if s.count > 0 && i >= s.count {
		return false
	}
	if s.rate > 0 {
		due := s.start.Add(time.Duration(float64(i) / s.rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			if !s.deadline.IsZero() && due.After(s.deadline) {
				return false
			}
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return false
			}
		}
	}
	if !s.deadline.IsZero() && !time.Now().Before(s.deadline) {
		return false
	}
	return ctx.Err() == nil
}

// tally is what one worker counted. Only its worker writes it, until the
// worker has exited.
type tally struct {
	hist     histogram
	ok, fail uint64
	errs     map[string]uint64
	first    error // the first error, classified
	retries  uint64
}

// failed records err; it reports whether the worker should stop (the
// session is over). Operations cut short by the run's end (an interrupt)
// are not failures: the workers do not record them.
func (t *tally) failed(err error) bool {
	t.fail++
	if t.errs == nil {
		t.errs = make(map[string]uint64)
	}
	t.errs[errorKey(err)]++
	if t.first == nil {
		t.first = classify(err)
	}
	return errors.Is(err, client.ErrClosed)
}

// errorKey names an error in the report: its WAMP URI, or its kind.
func errorKey(err error) string {
	var werr *protocol.Error
	switch {
	case errors.As(err, &werr):
		return string(werr.URI)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, client.ErrClosed):
		return "session closed"
	}
	return err.Error()
}

// merge adds the tallies up.
func merge(ts []*tally) *tally {
	all := &tally{}
	for _, t := range ts {
		all.hist.merge(&t.hist)
		all.ok += t.ok
		all.fail += t.fail
		all.retries += t.retries
		for k, v := range t.errs {
			if all.errs == nil {
				all.errs = make(map[string]uint64)
			}
			all.errs[k] += v
		}
		if all.first == nil {
			all.first = t.first
		}
	}
	return all
}

// runWorkers runs work on b.concurrency goroutines, worker i with the
// session sessions[i % len(sessions)], and returns their tallies once all
// have finished. A progress bar tracks s while they run, if asked for.
func (a *app) runWorkers(ctx context.Context, b *benchFlags, s *schedule, what string, sessions []*client.Client,
	work func(ctx context.Context, c *client.Client, t *tally)) []*tally {
	stopBar := a.startProgress(b, s, what)
	tallies := make([]*tally, b.concurrency)
	var wg sync.WaitGroup
	for i := range tallies {
		tallies[i] = &tally{}
		wg.Add(1)
		go func(t *tally, c *client.Client) {
			defer wg.Done()
			work(ctx, c, t)
		}(tallies[i], sessions[i%len(sessions)])
	}
	wg.Wait()
	stopBar()
	return tallies
}

// progressInterval is how often the progress bar is redrawn.
const progressInterval = 100 * time.Millisecond

// startProgress shows a progress bar of s on standard error, if b asks for
// one, until the returned function is called: the operations done of
// --count, or the time passed of --duration.
func (a *app) startProgress(b *benchFlags, s *schedule, what string) (stop func()) {
	if !b.progress {
		return func() {}
	}
	byCount := s.count > 0 && (s.deadline.IsZero() || b.duration <= 0)
	limit := s.count
	if !byCount {
		limit = b.duration.Milliseconds()
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(a.stderr),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetDescription(what),
		progressbar.OptionClearOnFinish(),
	}
	if byCount {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(what))
	}
	bar := progressbar.NewOptions64(limit, opts...)
	update := func() {
		done := s.done.Load()
		if byCount {
			_ = bar.Set64(done)
			return
		}
		_ = bar.Set64(min(time.Since(s.start).Milliseconds(), limit))
		bar.Describe(fmt.Sprintf("%d %s", done, what))
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				update()
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		wg.Wait()
		update()
		_ = bar.Finish()
	}
}

// dialSessions opens n sessions, closing those it opened if one fails.
func (a *app) dialSessions(ctx context.Context, n int) ([]*client.Client, error) {
	var cs []*client.Client
	for range n {
		c, err := a.dial(ctx)
		if err != nil {
			closeAll(cs)
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// closeAll closes the sessions concurrently and waits for them.
func closeAll(cs []*client.Client) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Close()
		}()
	}
	wg.Wait()
}

// benchURI returns prefix and a random suffix: a URI of this run's own.
func benchURI(prefix string) protocol.URI {
	var b [6]byte
	rand.Read(b[:])
	return protocol.URI(prefix + hex.EncodeToString(b[:]))
}

func (a *app) benchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark calls or publications through a router",
		Long: `Run calls (bench call) or publications to subscribers (bench publish)
against the router for --duration or --count, --concurrency at a time,
show a progress bar meanwhile, and print throughput and a latency report:
min, mean, p50, p90, p99, p99.9 and max, and a histogram by powers of two
(--json: the same as one JSON object). Latencies are recorded in
log-linear buckets, precise to 1.6 %.

A benchmark exits with status 0 when every operation succeeded, else with
the status of the first error (see wamp --help).`,
		Args: rangeArgs(0, 0, ""),
	}
	cmd.AddCommand(a.benchCallCommand(), a.benchPublishCommand())
	return cmd
}

func (a *app) benchCallCommand() *cobra.Command {
	var b benchFlags
	cmd := &cobra.Command{
		Use:   "call [PROCEDURE]",
		Short: "Benchmark calls: round trips to a callee",
		Long: `Call PROCEDURE as fast as --concurrency workers can (or at --rate) and
report the calls per second and the latency of each round trip.

Without PROCEDURE, wamp registers an echo procedure of its own on one more
session (wampkit.bench.echo.<random>) and calls that, so the benchmark
needs nothing but the router. --size adds a string argument of that many
bytes to each call. One call is made first, uncounted: if it fails, the
benchmark does not start.`,
		Example: `  wamp bench call --duration 10s --concurrency 8
  wamp bench call com.example.add --count 100000 --sessions 4 --concurrency 16 --json`,
		Args: rangeArgs(0, 1, "PROCEDURE"),
		RunE: func(cmd *cobra.Command, words []string) error {
			if err := b.check(cmd); err != nil {
				return err
			}
			ctx := cmd.Context()
			var proc protocol.URI
			if len(words) > 0 {
				proc = protocol.URI(words[0])
				if err := checkURI("procedure", proc, protocol.MatchExact); err != nil {
					return err
				}
			} else {
				callee, err := a.dial(ctx)
				if err != nil {
					return err
				}
				defer callee.Close()
				proc = benchURI("wampkit.bench.echo.")
				echo := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
					return &client.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
				}
				rctx, cancel := a.g.withTimeout(ctx)
				_, err = callee.Register(rctx, proc, echo, nil)
				cancel()
				if err != nil {
					return classify(err)
				}
			}
			callers, err := a.dialSessions(ctx, b.sessions)
			if err != nil {
				return err
			}
			defer closeAll(callers)
			args := b.padding()
			call := func(ctx context.Context, c *client.Client) error {
				cctx, cancel := a.g.withTimeout(ctx)
				defer cancel()
				_, err := c.Do(cctx, &client.CallRequest{Procedure: proc, Args: args})
				return err
			}
			if err := call(ctx, callers[0]); err != nil {
				return classify(fmt.Errorf("first call of %s: %w", proc, err))
			}
			s := newSchedule(&b)
			tallies := a.runWorkers(ctx, &b, s, "calls", callers, func(ctx context.Context, c *client.Client, t *tally) {
				for s.next(ctx) {
					t0 := time.Now()
					err := call(ctx, c)
					lat := time.Since(t0)
					if err != nil && ctx.Err() != nil {
						return // cut short by the interrupt: not a failure
					}
					s.done.Add(1)
					if err != nil {
						if t.failed(err) {
							return
						}
						continue
					}
					t.ok++
					t.hist.record(lat)
				}
			})
			elapsed := time.Since(s.start)
			all := merge(tallies)
			rep := a.newReport("call", proc, &b, all, elapsed, ctx.Err() != nil)
			rep.Latency = newLatencyReport(&all.hist)
			return a.finishBench(rep, all, &b)
		},
	}
	b.add(cmd, a.tty, "calls")
	return cmd
}

func (a *app) benchPublishCommand() *cobra.Command {
	var (
		b           benchFlags
		subscribers int
		ack         bool
	)
	cmd := &cobra.Command{
		Use:   "publish [TOPIC]",
		Short: "Benchmark publications: fan-out to subscribers",
		Long: `Subscribe --subscribers sessions to TOPIC, then publish to it from
--concurrency workers (spread over --sessions other sessions) and report
the publications per second, the events delivered per second, and the
latency from publishing to delivery (every event carries the time it was
published). With --acknowledge each publication waits for the router's
PUBLISHED, and the latency of that round trip is reported too.

Without TOPIC, wamp uses a topic of its own (wampkit.bench.topic.<random>).
Once the publications are done, wamp waits up to --timeout for the events
still on their way and reports those that did not arrive as lost.

An unacknowledged publication that finds the session's send queue full
is retried after a pause (counted as queue_full_retries): the publishers
then go as fast as the connection takes them, which can be faster than a
subscriber reads. The router then disconnects that subscriber (or drops
its events, as its realm is configured); --rate paces the publishers.`,
		Example: `  wamp bench publish --subscribers 10 --duration 10s
  wamp bench publish --subscribers 100 --count 10000 --rate 2000 --json`,
		Args: rangeArgs(0, 1, "TOPIC"),
		RunE: func(cmd *cobra.Command, words []string) error {
			if err := b.check(cmd); err != nil {
				return err
			}
			if subscribers < 0 {
				return usageErrorf("--subscribers %d: want 0 or more", subscribers)
			}
			ctx := cmd.Context()
			topic := benchURI("wampkit.bench.topic.")
			if len(words) > 0 {
				topic = protocol.URI(words[0])
				if err := checkURI("topic", topic, protocol.MatchExact); err != nil {
					return err
				}
			}
			// base is the clock of the timestamps the events carry:
			// monotonic, and shared by publishers and subscribers of this
			// process.
			base := time.Now()
			subs, err := a.startSubscribers(ctx, subscribers, topic, base)
			if err != nil {
				return err
			}
			defer subs.close()
			pubs, err := a.dialSessions(ctx, b.sessions)
			if err != nil {
				return err
			}
			defer closeAll(pubs)
			pad := b.padding()
			s := newSchedule(&b)
			tallies := a.runWorkers(ctx, &b, s, "publications", pubs, func(ctx context.Context, c *client.Client, t *tally) {
				for s.next(ctx) {
					if !a.publishOne(ctx, c, t, topic, pad, base, ack) {
						return
					}
					s.done.Add(1)
				}
			})
			elapsed := time.Since(s.start)
			all := merge(tallies)
			fan := subs.drain(ctx, a.g.timeout, all.ok*uint64(subscribers))
			fan.PerSecond = float64(fan.Delivered) / time.Since(s.start).Seconds()
			rep := a.newReport("publish", topic, &b, all, elapsed, ctx.Err() != nil)
			if ack {
				rep.Latency = newLatencyReport(&all.hist)
			}
			rep.QueueFull = all.retries
			rep.Fanout = fan
			if fan.Lost > 0 || fan.SessionsLost > 0 {
				if all.first == nil {
					all.first = &exitError{code: ExitFailure, err: fmt.Errorf("%d of %d events were not delivered", fan.Lost, fan.Expected)}
				}
				if subs.err != nil {
					all.first = subs.err
				}
			}
			return a.finishBench(rep, all, &b)
		},
	}
	b.add(cmd, a.tty, "publications")
	cmd.Flags().IntVar(&subscribers, "subscribers", 1, "how many subscriber sessions receive the events")
	cmd.Flags().BoolVar(&ack, "acknowledge", false, "wait for the router's PUBLISHED for each publication, report its latency")
	return cmd
}

// queueFullPause is how long an unacknowledged publisher waits when its
// session's send queue is full, before it tries again.
const queueFullPause = 100 * time.Microsecond

// publishOne publishes one event carrying the time since base; it
// reports whether the worker should go on.
func (a *app) publishOne(ctx context.Context, c *client.Client, t *tally, topic protocol.URI, pad protocol.List, base time.Time, ack bool) bool {
	for {
		args := append(protocol.List{int64(time.Since(base))}, pad...)
		var err error
		t0 := time.Now()
		if ack {
			pctx, cancel := a.g.withTimeout(ctx)
			_, err = c.DoPublish(pctx, &client.PublishRequest{Topic: topic, Args: args, Acknowledge: true})
			cancel()
		} else {
			err = c.Publish(ctx, topic, args...)
		}
		if errors.Is(err, transport.ErrQueueFull) && !ack {
			t.retries++
			pause := time.NewTimer(queueFullPause)
			select {
			case <-pause.C:
				continue
			case <-ctx.Done():
				pause.Stop()
				return false // interrupted: not a failure
			}
		}
		if err != nil && ctx.Err() != nil {
			return false // cut short by the interrupt: not a failure
		}
		if err != nil {
			return !t.failed(err)
		}
		t.ok++
		if ack {
			t.hist.record(time.Since(t0))
		}
		return true
	}
}

// subscriberSet is the subscriber sessions of bench publish.
type subscriberSet struct {
	cs       []*client.Client
	hists    []*histogram   // one per subscriber; its handler only, until closed
	received []atomic.Int64 // events per subscriber
	closed   bool
	err      error // why a subscriber's session ended, if one did
}

// startSubscribers opens n sessions subscribed to topic; their handlers
// record the latency of each event that carries a timestamp from base.
func (a *app) startSubscribers(ctx context.Context, n int, topic protocol.URI, base time.Time) (*subscriberSet, error) {
	set := &subscriberSet{hists: make([]*histogram, n), received: make([]atomic.Int64, n)}
	cs, err := a.dialSessions(ctx, n)
	if err != nil {
		return nil, err
	}
	set.cs = cs
	for i, c := range cs {
		h := &histogram{}
		set.hists[i] = h
		recv := &set.received[i]
		handler := func(ev *client.Event) {
			if len(ev.Args) == 0 {
				return
			}
			sent, ok := protocol.ToInt64(ev.Args[0])
			if !ok {
				return // not one of ours
			}
			h.record(time.Since(base) - time.Duration(sent))
			recv.Add(1)
		}
		sctx, cancel := a.g.withTimeout(ctx)
		_, err := c.Subscribe(sctx, topic, handler, &client.SubscribeOptions{Queue: -1})
		cancel()
		if err != nil {
			set.close()
			return nil, classify(err)
		}
	}
	return set, nil
}

// drainPoll is how often drain looks at the delivered count.
const drainPoll = 10 * time.Millisecond

// drain waits until expected events have been delivered, a subscriber's
// session has ended, ctx has ended or timeout (if positive) has passed;
// then it closes the subscribers and returns the fan-out report.
func (set *subscriberSet) drain(ctx context.Context, timeout time.Duration, expected uint64) *fanoutReport {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
wait:
	for set.delivered() < expected {
		for _, c := range set.cs {
			select {
			case <-c.Done():
				break wait
			default:
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	lost := 0
	for _, c := range set.cs {
		select {
		case <-c.Done():
			lost++
			if set.err == nil {
				set.err = classify(fmt.Errorf("a subscriber's session ended: %w", c.Err()))
			}
		default:
		}
	}
	set.close() // the handlers have returned once the sessions are closed
	var all histogram
	for _, h := range set.hists {
		all.merge(h)
	}
	got := set.delivered()
	rep := &fanoutReport{Subscribers: len(set.cs), Expected: expected, Delivered: got, SessionsLost: lost,
		Latency: newLatencyReport(&all)}
	if got < expected {
		rep.Lost = expected - got
	}
	return rep
}

func (set *subscriberSet) delivered() uint64 {
	var n int64
	for i := range set.received {
		n += set.received[i].Load()
	}
	return uint64(n)
}

func (set *subscriberSet) close() {
	if !set.closed {
		set.closed = true
		closeAll(set.cs)
	}
}

// benchReport is the result of a benchmark; --json prints it as is.
type benchReport struct {
	Benchmark   string            `json:"benchmark"` // "call" or "publish"
	URI         string            `json:"uri"`
	URL         string            `json:"url"`
	Serializer  string            `json:"serializer"`
	Concurrency int               `json:"concurrency"`
	Sessions    int               `json:"sessions"`
	Size        int               `json:"size"`
	Elapsed     float64           `json:"elapsed_seconds"`
	OK          uint64            `json:"ok"`
	Failed      uint64            `json:"failed"`
	Errors      map[string]uint64 `json:"errors,omitempty"`
	PerSecond   float64           `json:"per_second"`
	Interrupted bool              `json:"interrupted,omitempty"`
	// Latency is the round trip of each call, or of each acknowledged
	// publication.
	Latency   *latencyReport `json:"latency,omitempty"`
	QueueFull uint64         `json:"queue_full_retries,omitempty"`
	Fanout    *fanoutReport  `json:"fanout,omitempty"`
}

// fanoutReport is what the subscribers of bench publish received.
type fanoutReport struct {
	Subscribers  int            `json:"subscribers"`
	Expected     uint64         `json:"expected"`
	Delivered    uint64         `json:"delivered"`
	Lost         uint64         `json:"lost"`
	SessionsLost int            `json:"sessions_lost"`
	PerSecond    float64        `json:"per_second"`
	Latency      *latencyReport `json:"latency"`
}

// latencyReport summarises a histogram, in nanoseconds.
type latencyReport struct {
	Count     uint64    `json:"count"`
	Min       int64     `json:"min_ns"`
	Mean      int64     `json:"mean_ns"`
	P50       int64     `json:"p50_ns"`
	P90       int64     `json:"p90_ns"`
	P99       int64     `json:"p99_ns"`
	P999      int64     `json:"p999_ns"`
	Max       int64     `json:"max_ns"`
	Histogram []histBin `json:"histogram"`
}

// histBin is one power-of-two range of the histogram: [from, to).
type histBin struct {
	From  int64  `json:"from_ns"`
	To    int64  `json:"to_ns"`
	Count uint64 `json:"count"`
}

func newLatencyReport(h *histogram) *latencyReport {
	r := &latencyReport{Count: h.count(), Min: int64(h.min), Mean: int64(h.mean()),
		P50: int64(h.quantile(0.50)), P90: int64(h.quantile(0.90)), P99: int64(h.quantile(0.99)),
		P999: int64(h.quantile(0.999)), Max: int64(h.max), Histogram: []histBin{}}
	lows, counts := h.powerOfTwoCounts()
	for i, low := range lows {
		to := 2 * low
		if low == 0 {
			to = 1
		}
		r.Histogram = append(r.Histogram, histBin{From: int64(low), To: int64(to), Count: counts[i]})
	}
	return r
}

func (a *app) newReport(kind string, uri protocol.URI, b *benchFlags, all *tally, elapsed time.Duration, interrupted bool) *benchReport {
	r := &benchReport{Benchmark: kind, URI: string(uri), URL: a.g.url, Serializer: a.serializerName(),
		Concurrency: b.concurrency, Sessions: b.sessions, Size: b.size, Elapsed: elapsed.Seconds(),
		OK: all.ok, Failed: all.fail, Errors: all.errs, Interrupted: interrupted}
	if elapsed > 0 {
		r.PerSecond = float64(all.ok) / elapsed.Seconds()
	}
	return r
}

// serializerName returns the serializer the sessions use.
func (a *app) serializerName() string {
	if a.g.serializer != "" {
		return strings.ToLower(a.g.serializer)
	}
	if u, err := url.Parse(a.g.url); err == nil && strings.HasPrefix(strings.ToLower(u.Scheme), "ws") {
		return "json"
	}
	return "msgpack"
}

// finishBench prints the report and returns the benchmark's exit error.
func (a *app) finishBench(rep *benchReport, all *tally, b *benchFlags) error {
	var err error
	if b.json {
		err = a.printLine(rep)
	} else {
		err = a.printText(rep)
	}
	if err != nil {
		return err
	}
	if rep.Interrupted {
		return &exitError{code: ExitInterrupted, err: errInterrupted}
	}
	return all.first
}

// printText writes the report for people.
func (a *app) printText(r *benchReport) error {
	var w strings.Builder
	unit := "calls"
	if r.Benchmark == "publish" {
		unit = "publications"
	}
	fmt.Fprintf(&w, "%s %s: %d %s in %v, %.1f %s/s, %d failed\n", r.Benchmark, r.URI, r.OK, unit,
		roundDuration(time.Duration(r.Elapsed*float64(time.Second))), r.PerSecond, unit, r.Failed)
	fmt.Fprintf(&w, "  concurrency %d over %s, %d bytes of payload, %s over %s\n", r.Concurrency, plural(r.Sessions, "session"), r.Size, r.Serializer, r.URL)
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		fmt.Fprintf(&w, "  error %s: %d\n", k, r.Errors[k])
	}
	if r.QueueFull > 0 {
		fmt.Fprintf(&w, "  send queue full %d times (retried)\n", r.QueueFull)
	}
	if r.Interrupted {
		fmt.Fprintf(&w, "  interrupted\n")
	}
	if f := r.Fanout; f != nil {
		fmt.Fprintf(&w, "fan-out to %d subscribers: %d of %d events delivered, %.1f events/s, %d lost, %d subscriber sessions lost\n",
			f.Subscribers, f.Delivered, f.Expected, f.PerSecond, f.Lost, f.SessionsLost)
		printLatency(&w, "delivery latency", f.Latency)
	}
	if r.Latency != nil {
		name := "call latency"
		if r.Benchmark == "publish" {
			name = "acknowledgement latency"
		}
		printLatency(&w, name, r.Latency)
	}
	if _, err := io.WriteString(a.stdout, w.String()); err != nil {
		return &exitError{code: ExitFailure, err: fmt.Errorf("write output: %w", err)}
	}
	return nil
}

func printLatency(w io.Writer, name string, l *latencyReport) {
	if l.Count == 0 {
		fmt.Fprintf(w, "%s: nothing measured\n", name)
		return
	}
	d := func(ns int64) time.Duration { return roundDuration(time.Duration(ns)) }
	fmt.Fprintf(w, "%s: min %v  mean %v  p50 %v  p90 %v  p99 %v  p99.9 %v  max %v\n", name,
		d(l.Min), d(l.Mean), d(l.P50), d(l.P90), d(l.P99), d(l.P999), d(l.Max))
	var most uint64
	for _, bin := range l.Histogram {
		most = max(most, bin.Count)
	}
	for _, bin := range l.Histogram {
		bar := 0
		if bin.Count > 0 {
			bar = int((bin.Count*40 + most - 1) / most)
		}
		fmt.Fprintf(w, "  %9v - %9v %10d  %s\n", d(bin.From), d(bin.To), bin.Count, strings.Repeat("█", bar))
	}
}

// plural returns "1 session" or "n sessions".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
