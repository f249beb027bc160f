package cli

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// decodeReport decodes bench --json output.
func decodeReport(tb testing.TB, out string) *benchReport {
	tb.Helper()
	var rep benchReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		tb.Fatalf("bench --json output %q: %v", out, err)
	}
	return &rep
}

// checkLatency checks that a latency report counts n values, that its
// percentiles are in order and that its histogram holds every value.
func checkLatency(tb testing.TB, what string, l *latencyReport, n uint64) {
	tb.Helper()
	if l == nil {
		tb.Fatalf("%s: no latency report", what)
	}
	if l.Count != n {
		tb.Errorf("%s: latency count %d, want %d", what, l.Count, n)
	}
	ordered := []int64{l.Min, l.P50, l.P90, l.P99, l.P999, l.Max}
	if !slices.IsSorted(ordered) || l.Min > l.Mean || l.Mean > l.Max {
		tb.Errorf("%s: min, p50, p90, p99, p99.9, max = %v, mean %d: not in order", what, ordered, l.Mean)
	}
	var sum uint64
	for i, b := range l.Histogram {
		sum += b.Count
		if b.To <= b.From || (i > 0 && b.From != l.Histogram[i-1].To) {
			tb.Errorf("%s: histogram bins not contiguous: %+v", what, l.Histogram)
		}
	}
	if sum != n {
		tb.Errorf("%s: histogram holds %d values, want %d", what, sum, n)
	}
}

// TestBenchCall runs bench call with its own echo callee and against a
// procedure of the test's, and checks the counts and the report's fields
// (never the speed).
func TestBenchCall(t *testing.T) {
	tr := startRouter(t, router.Config{})
	c := tr.join(t, "")
	calls := make(chan protocol.List, 128)
	register(t, c, "com.example.bench", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		calls <- inv.Args
		return &client.Result{}, nil
	})

	r := mustRun(t, ExitOK, nil, "--url", tr.wsURL, "bench", "call", "--count", "50", "--concurrency", "4", "--sessions", "2", "--json")
	rep := decodeReport(t, r.stdout)
	if rep.Benchmark != "call" || !strings.HasPrefix(rep.URI, "wampkit.bench.echo.") || rep.OK != 50 || rep.Failed != 0 ||
		rep.Concurrency != 4 || rep.Sessions != 2 || rep.Serializer != "json" || rep.URL != tr.wsURL || rep.Interrupted {
		t.Errorf("report %+v", rep)
	}
	if rep.Elapsed <= 0 || rep.PerSecond <= 0 {
		t.Errorf("elapsed %v, per second %v: want both positive", rep.Elapsed, rep.PerSecond)
	}
	checkLatency(t, "bench call", rep.Latency, 50)

	// Against a procedure of ours, with a payload: one uncounted first
	// call, then --count.
	r = mustRun(t, ExitOK, nil, "--url", tr.tcpURL, "bench", "call", "com.example.bench", "--count", "20", "--size", "100", "--json")
	rep = decodeReport(t, r.stdout)
	if rep.OK != 20 || rep.URI != "com.example.bench" || rep.Serializer != "msgpack" || rep.Size != 100 {
		t.Errorf("report %+v", rep)
	}
	if len(calls) != 21 {
		t.Errorf("the callee got %d calls, want 21 (one first, 20 counted)", len(calls))
	}
	for len(calls) > 0 {
		if args := <-calls; len(args) != 1 || args[0] != strings.Repeat("x", 100) {
			t.Fatalf("call args %v, want one string of 100 bytes", args)
		}
	}

	// The text report has the same fields.
	r = mustRun(t, ExitOK, nil, "--url", tr.wsURL, "bench", "call", "--count", "10")
	for _, want := range []string{"10 calls in", "calls/s", "0 failed", "call latency: min", "p50", "p90", "p99", "p99.9", "max", "█"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestBenchCallFails checks that a benchmark of a procedure nobody
// registered does not start, and the usage errors.
func TestBenchCallFails(t *testing.T) {
	tr := startRouter(t, router.Config{})
	r := mustRun(t, ExitWAMPError, nil, "--url", tr.wsURL, "bench", "call", "com.example.nobody", "--count", "5")
	if !strings.Contains(r.stderr, "wamp.error.no_such_procedure") || r.stdout != "" {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
	for _, args := range [][]string{
		{"bench", "call", "--concurrency", "0"},
		{"bench", "call", "--count", "-1"},
		{"bench", "call", "--duration", "0"},
		{"bench", "call", "a.b", "c.d"},
		{"bench", "publish", "--subscribers", "-1"},
		{"bench", "call", "not a uri"},
	} {
		if r := run(t, nil, append([]string{"--url", tr.wsURL}, args...)...); r.code != ExitUsage {
			t.Errorf("wamp %s: exit status %d, want %d\n%s", strings.Join(args, " "), r.code, ExitUsage, r.stderr)
		}
	}
}

// TestBenchCallDuration runs by --duration with --rate (so the run makes
// a bounded number of calls) and a progress bar into a buffer.
func TestBenchCallDuration(t *testing.T) {
	tr := startRouter(t, router.Config{})
	r := mustRun(t, ExitOK, nil, "--url", tr.wsURL, "bench", "call", "--duration", "300ms", "--rate", "100", "--concurrency", "2", "--progress", "--json")
	rep := decodeReport(t, r.stdout)
	// At 100 calls a second for 0.3 s, at most 31 calls can start.
	if rep.OK == 0 || rep.OK > 31 || rep.Failed != 0 {
		t.Errorf("ok %d, failed %d: want 1 to 31 calls, none failed", rep.OK, rep.Failed)
	}
	checkLatency(t, "bench call --duration", rep.Latency, rep.OK)
	if !strings.Contains(r.stderr, "calls") {
		t.Errorf("no progress bar on stderr: %q", r.stderr)
	}
}

// TestBenchPublish checks the fan-out benchmark: every publication
// reaches every subscriber, with and without acknowledgement.
func TestBenchPublish(t *testing.T) {
	tr := startRouter(t, router.Config{})
	r := mustRun(t, ExitOK, nil, "--url", tr.wsURL, "bench", "publish", "--subscribers", "3", "--count", "30", "--concurrency", "2", "--size", "10", "--json")
	rep := decodeReport(t, r.stdout)
	if rep.Benchmark != "publish" || rep.OK != 30 || rep.Failed != 0 || rep.Latency != nil {
		t.Errorf("report %+v", rep)
	}
	f := rep.Fanout
	if f == nil || f.Subscribers != 3 || f.Expected != 90 || f.Delivered != 90 || f.Lost != 0 || f.SessionsLost != 0 {
		t.Fatalf("fan-out %+v, want 90 of 90 delivered to 3", f)
	}
	checkLatency(t, "delivery", f.Latency, 90)

	r = mustRun(t, ExitOK, nil, "--url", tr.unixURL, "bench", "publish", "com.example.topic", "--subscribers", "2", "--count", "20", "--acknowledge", "--json")
	rep = decodeReport(t, r.stdout)
	if rep.OK != 20 || rep.URI != "com.example.topic" || rep.Fanout.Delivered != 40 {
		t.Errorf("report %+v, fan-out %+v", rep, rep.Fanout)
	}
	checkLatency(t, "acknowledgement", rep.Latency, 20)

	r = mustRun(t, ExitOK, nil, "--url", tr.wsURL, "bench", "publish", "--subscribers", "2", "--count", "10", "--acknowledge")
	for _, want := range []string{"10 publications in", "fan-out to 2 subscribers: 20 of 20 events delivered", "delivery latency: min", "acknowledgement latency: min", "p99"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestBenchInterrupted checks that a benchmark interrupted while it runs
// reports what it did and exits with status 130.
func TestBenchInterrupted(t *testing.T) {
	tr := startRouter(t, router.Config{})
	var calls atomic.Int64
	// The first call is the uncounted one before the timed run, the
	// second is counted, the third waits until it is canceled: the
	// interrupt finds a call under way.
	register(t, tr.join(t, ""), "com.example.count", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		if calls.Add(1) >= 3 {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return &client.Result{}, nil
	})
	b := start(t, nil, "--url", tr.wsURL, "bench", "call", "com.example.count", "--duration", "1h", "--rate", "1000", "--json")
	b.waitFor("calls of the timed run", func() bool { return calls.Load() >= 3 })
	r := b.interrupt()
	if r.code != ExitInterrupted {
		t.Fatalf("exit status %d, want %d\nstderr:\n%s", r.code, ExitInterrupted, r.stderr)
	}
	rep := decodeReport(t, r.stdout)
	// The call cut short by the interrupt is not a failure.
	if !rep.Interrupted || rep.OK != 1 || rep.Failed != 0 || len(rep.Errors) != 0 {
		t.Errorf("report %+v: want interrupted, one call, no failure", rep)
	}
	checkLatency(t, "interrupted", rep.Latency, rep.OK)
}

// TestHistogram checks the buckets and quantiles against exact values.
func TestHistogram(t *testing.T) {
	// Every bucket holds what bucketOf puts into it, and the buckets
	// tile the number line.
	prevHi := uint64(0)
	for i := 1; i < histBuckets; i++ {
		lo, hi := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, the previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d = [%d, %d], but bucketOf gives %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo >= subN && float64(hi-lo+1)/float64(lo) > 1.0/subN+1e-12 {
			t.Fatalf("bucket %d = [%d, %d] is wider than 1/%d of its values", i, lo, hi, subN)
		}
		prevHi = hi
	}
	if prevHi != ^uint64(0) {
		t.Fatalf("the last bucket ends at %d", prevHi)
	}

	// Quantiles are within the bucket precision of the exact ones.
	rng := rand.New(rand.NewPCG(1, 2))
	var h histogram
	values := make([]time.Duration, 10000)
	for i := range values {
		values[i] = time.Duration(rng.ExpFloat64() * float64(time.Millisecond))
		h.record(values[i])
	}
	slices.Sort(values)
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
		rank := max(int(float64(len(values))*q+0.999999)-1, 0)
		exact := values[rank]
		got := h.quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/subN+1 {
			t.Errorf("quantile(%v) = %v, exact %v: not within 1/%d above", q, got, exact, subN)
		}
	}
	if h.min != values[0] || h.max != values[len(values)-1] || h.count() != 10000 {
		t.Errorf("min %v max %v count %d", h.min, h.max, h.count())
	}

	// Merging is the same as recording into one.
	var a, b histogram
	for i, v := range values {
		if i%2 == 0 {
			a.record(v)
		} else {
			b.record(v)
		}
	}
	a.merge(&b)
	if a.counts != h.counts || a.min != h.min || a.max != h.max || a.n != h.n {
		t.Error("merged histogram differs from the one recorded whole")
	}

	var empty histogram
	if empty.quantile(0.5) != 0 || empty.mean() != 0 {
		t.Error("empty histogram: want zeros")
	}
	if lows, _ := empty.powerOfTwoCounts(); lows != nil {
		t.Error("empty histogram has bins")
	}
	var neg histogram
	neg.record(-time.Second)
	if neg.max != 0 || neg.quantile(1) != 0 {
		t.Error("a negative duration must count as 0")
	}
}

// TestHistogramRecordAllocs pins that recording allocates nothing: the
// benchmark workers record once per operation.
func TestHistogramRecordAllocs(t *testing.T) {
	var h histogram
	d := time.Duration(0)
	if n := testing.AllocsPerRun(1000, func() {
		d += 12345
		h.record(d)
	}); n != 0 {
		t.Errorf("histogram.record: %v allocs, want 0", n)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	b.ReportAllocs()
	var h histogram
	d := time.Duration(1)
	for b.Loop() {
		d = d*3 + 7
		h.record(d & (1<<40 - 1))
	}
}

func BenchmarkHistogramQuantile(b *testing.B) {
	b.ReportAllocs()
	var h histogram
	for i := range 100_000 {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for b.Loop() {
		_ = h.quantile(0.99)
	}
}
