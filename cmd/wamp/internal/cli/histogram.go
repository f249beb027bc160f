package cli

import (
	"math"
	"math/bits"
	"time"
)

// histogram records durations in log-linear buckets, as HdrHistogram
// does: values below 2^subBits ns each have a bucket of their own, and
// every power-of-two range above is split into 2^subBits equal buckets, so
// a recorded value is known to within 1/2^subBits (1.6 %) of itself, from
// nanoseconds to the largest time.Duration, in a fixed 30 KiB. The exact
// minimum, maximum and sum are kept beside the buckets.
//
// A histogram is not safe for concurrent use: each benchmark worker
// records into its own and the report merges them.
type histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      float64 // ns; float so that the sum of many long times cannot overflow
	min, max time.Duration
}

const (
	subBits = 6
	subN    = 1 << subBits
	// histBuckets covers bucket indexes of values up to MaxUint64 ns.
	histBuckets = (64 - subBits + 1) * subN
)

// bucketOf returns the bucket index of v nanoseconds.
func bucketOf(v uint64) int {
	if v < subN {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // v>>shift is in [subN, 2*subN)
	return (shift+1)*subN + int(v>>shift) - subN
}

// bucketRange returns the values [lo, hi] that bucket i holds.
func bucketRange(i int) (lo, hi uint64) {
	if i < subN {
		return uint64(i), uint64(i)
	}
	shift := i/subN - 1
	lo = uint64(i%subN+subN) << shift
	return lo, lo + (uint64(1) << shift) - 1
}

// record adds one duration; negative ones count as 0.
func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += float64(d)
}

// merge adds the values of o to h.
func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// count returns the number of recorded values.
func (h *histogram) count() uint64 { return h.n }

// mean returns the mean of the recorded values, 0 if there are none.
func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// quantile returns the value below or at which the fraction q of the
// recorded values lie (q in [0, 1]): the upper end of the bucket that
// holds the value of rank ceil(q*n), but never more than the maximum or
// less than the minimum. It returns 0 if nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketRange(i)
			v := time.Duration(min(hi, uint64(math.MaxInt64)))
			return max(min(v, h.max), h.min)
		}
	}
	return h.max
}

// powerOfTwoCounts returns the counts of the ranges [2^k, 2^(k+1)) ns
// from the lowest to the highest that holds a value, for printing; the
// first range starts at 0.
func (h *histogram) powerOfTwoCounts() (lows []time.Duration, counts []uint64) {
	if h.n == 0 {
		return nil, nil
	}
	var byPow [65]uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		lo, _ := bucketRange(i)
		byPow[bits.Len64(lo)] += c // 0 for lo == 0, k+1 for lo in [2^k, 2^(k+1))
	}
	first, last := -1, 0
	for k, c := range byPow {
		if c > 0 {
			if first < 0 {
				first = k
			}
			last = k
		}
	}
	for k := first; k <= last; k++ {
		low := time.Duration(0)
		if k > 0 {
			low = time.Duration(uint64(1) << (k - 1))
		}
		lows = append(lows, low)
		counts = append(counts, byPow[k])
	}
	return lows, counts
}

// roundDuration rounds d to three significant digits for printing.
func roundDuration(d time.Duration) time.Duration {
	for _, unit := range []time.Duration{time.Second, time.Millisecond, time.Microsecond} {
		if d >= 100*unit {
			return d.Round(unit)
		}
		if d >= 10*unit {
			return d.Round(unit / 10)
		}
		if d >= unit {
			return d.Round(unit / 100)
		}
	}
	return d
}
