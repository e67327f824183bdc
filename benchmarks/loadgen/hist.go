package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a log-linear latency histogram in microseconds (64 sub-buckets per
// power of two, under 1.6% relative error), safe for concurrent Record.
type hist struct {
	counts [64 * 42]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

const histSub = 64

func histIndex(us int64) int {
	if us < 2*histSub {
		if us < 0 {
			return 0
		}
		return int(us)
	}
	shift := bits.Len64(uint64(us)) - 7
	i := (shift+1)*histSub + int(us>>shift) - histSub
	if i >= len(hist{}.counts) {
		return len(hist{}.counts) - 1
	}
	return i
}

// histValue is the midpoint of bucket i, in microseconds.
func histValue(i int) float64 {
	if i < 2*histSub {
		return float64(i)
	}
	shift := i/histSub - 1
	lo := int64(i%histSub+histSub) << shift
	return float64(lo) + float64(int64(1)<<shift)/2
}

// Record adds one latency.
func (h *hist) Record(d time.Duration) {
	us := d.Microseconds()
	h.counts[histIndex(us)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Count is the number of recorded values.
func (h *hist) Count() uint64 { return h.n.Load() }

// Quantile returns the q-quantile (0 < q <= 1) in milliseconds.
func (h *hist) Quantile(q float64) float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return histValue(i) / 1000
		}
	}
	return h.MaxMS()
}

// MaxMS is the largest recorded value in milliseconds.
func (h *hist) MaxMS() float64 { return float64(h.max.Load()) / 1e6 }
