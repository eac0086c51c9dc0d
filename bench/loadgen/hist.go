package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram layout. Values below 2^(subBits+1) get one bucket each; above
// that every power of two is cut into 2^subBits equal buckets, so a
// recorded value is known to within 1/2^subBits (0.8 %) of itself, the
// same guarantee as an HdrHistogram with two significant digits. Values
// are int64 nanoseconds; the whole int64 range fits in histBuckets
// counters (57 KiB).
const (
	subBits     = 7
	subCount    = 1 << subBits // buckets per power of two
	linearLimit = 2 * subCount // values below this are exact
	histBuckets = (63-subBits)*subCount + linearLimit
)

// Histogram is a log-linear histogram of durations (HdrHistogram-style):
// fixed memory, O(1) Record, percentiles with a relative error of at most
// 1/128, and exact min, max, count and sum. Histograms from several workers
// merge into one with Merge.
//
// A Histogram is not safe for concurrent use. Its zero value is an empty
// histogram ready to use.
type Histogram struct {
	counts [histBuckets]uint64
	total  uint64
	sum    float64 // nanoseconds; float64 so it never overflows
	min    int64
	max    int64
}

// bucketOf returns the index of the bucket holding v (v >= 0).
func bucketOf(v int64) int {
	if v < linearLimit {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - 1 - subBits // >= 1
	return shift*subCount + int(uint64(v)>>uint(shift))
}

// bucketRange returns the smallest and largest value that fall in bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < linearLimit {
		return int64(i), int64(i)
	}
	shift := i/subCount - 1
	mant := int64(i - shift*subCount)
	lo = mant << uint(shift)
	return lo, lo + (int64(1) << uint(shift)) - 1
}

// Record adds one observation of d. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += float64(v)
}

// Merge adds every observation of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.total }

// Min returns the smallest observation, 0 when empty.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Max returns the largest observation, 0 when empty.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the mean observation, 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(math.Round(h.sum / float64(h.total)))
}

// Percentile returns the smallest recorded value v such that at least q
// percent of the observations are <= v, to within the bucket width: it
// answers the highest value of the bucket holding that observation (as
// HdrHistogram does), never more than Max. q is clamped to [0, 100];
// Percentile(100) is Max and an empty histogram answers 0.
func (h *Histogram) Percentile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	if q >= 100 {
		return time.Duration(h.max)
	}
	if q < 0 || math.IsNaN(q) {
		q = 0
	}
	rank := uint64(math.Ceil(q / 100 * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketRange(i)
			if hi > h.max {
				hi = h.max
			}
			if hi < h.min {
				hi = h.min
			}
			return time.Duration(hi)
		}
	}
	return time.Duration(h.max)
}
