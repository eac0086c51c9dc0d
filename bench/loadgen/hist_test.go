package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	// Every value falls in a bucket whose range holds it and is at most
	// 1/128 of the value wide; consecutive buckets tile the line.
	values := []int64{0, 1, 2, 127, 128, 255, 256, 257, 383, 384, 511, 512, 1000, 1 << 20, 1<<20 + 1,
		int64(time.Second), int64(time.Hour), math.MaxInt64 - 1, math.MaxInt64}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		values = append(values, r.Int64N(1<<uint(r.IntN(63))+1))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of [0,%d)", v, i, histBuckets)
		}
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d = [%d,%d]", v, i, lo, hi)
		}
		if width := hi - lo + 1; v >= linearLimit && float64(width) > float64(lo)/subCount {
			t.Fatalf("bucket %d [%d,%d] wider than 1/%d of its values", i, lo, hi, subCount)
		}
	}
	for i := 1; i <= bucketOf(math.MaxInt64); i++ {
		_, prevHi := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, lo, prevHi)
		}
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	for _, q := range []float64{0, 50, 99.9, 100} {
		if got := h.Percentile(q); got != 0 {
			t.Errorf("empty Percentile(%v) = %v, want 0", q, got)
		}
	}
	if h.Count() != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Errorf("empty histogram: count %d min %v max %v mean %v", h.Count(), h.Min(), h.Max(), h.Mean())
	}
}

func TestHistogramSmallExact(t *testing.T) {
	// Values below 256ns are exact.
	var h Histogram
	for v := 1; v <= 100; v++ {
		h.Record(time.Duration(v))
	}
	h.Record(-5) // counts as 0
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0, 0}, {1, 1}, {50, 50}, {90, 90}, {99, 99}, {100, 100},
	}
	for _, tt := range tests {
		if got := h.Percentile(tt.q); got != tt.want {
			t.Errorf("Percentile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if h.Count() != 101 || h.Min() != 0 || h.Max() != 100 {
		t.Errorf("count %d min %v max %v, want 101 0 100", h.Count(), h.Min(), h.Max())
	}
	if got, want := h.Mean(), time.Duration(math.Round(5050.0/101)); got != want {
		t.Errorf("Mean = %v, want %v", got, want)
	}
}

// exactPercentile is the reference: the smallest value with at least q %
// of the sorted values at or below it.
func exactPercentile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q / 100 * float64(len(sorted))))
	rank = max(rank, 1)
	return sorted[rank-1]
}

func TestHistogramPercentilesAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 2, 10, 1000, 100000} {
		var h Histogram
		vals := make([]int64, n)
		for i := range vals {
			// Log-normal-ish latencies from 1µs to ~1s.
			v := int64(math.Exp(r.NormFloat64()*2+11)) + 1
			vals[i] = v
			h.Record(time.Duration(v))
		}
		slices.Sort(vals)
		for _, q := range []float64{0, 10, 50, 90, 99, 99.9, 99.99, 100} {
			want := exactPercentile(vals, q)
			got := int64(h.Percentile(q))
			if got < want || float64(got-want) > float64(want)/subCount {
				t.Errorf("n=%d p%v = %d, exact %d: outside [exact, exact*(1+1/%d)]", n, q, got, want, subCount)
			}
		}
		if int64(h.Max()) != vals[n-1] || int64(h.Min()) != vals[0] {
			t.Errorf("n=%d min/max %v/%v, want %d/%d", n, h.Min(), h.Max(), vals[0], vals[n-1])
		}
	}
}

func TestHistogramMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var all, a, b, empty Histogram
	for i := range 5000 {
		d := time.Duration(r.Int64N(int64(10 * time.Millisecond)))
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&empty)
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&empty)
	if m.counts != all.counts || m.Count() != all.Count() || m.Min() != all.Min() || m.Max() != all.Max() {
		t.Fatalf("merged histogram differs from one fed everything")
	}
	if math.Abs(float64(m.Mean()-all.Mean())) > 1 {
		t.Fatalf("merged mean %v, want %v", m.Mean(), all.Mean())
	}
	// Merging into an empty histogram keeps the other's minimum.
	var e Histogram
	var one Histogram
	one.Record(time.Millisecond)
	e.Merge(&one)
	if e.Min() != time.Millisecond {
		t.Fatalf("min after merge into empty = %v, want 1ms", e.Min())
	}
	m.Reset()
	if m.Count() != 0 || m.Percentile(50) != 0 {
		t.Fatalf("Reset left %d observations", m.Count())
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	b.ReportAllocs()
	var h Histogram
	for i := range b.N {
		h.Record(time.Duration(i&0xfffff) * 100)
	}
}
