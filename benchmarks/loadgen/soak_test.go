package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The growth rule on made-up series: steady and noisy loads pass, a steady
// climb fails, a warm-up climb is not judged, and goroutines left behind
// once idle fail.
func TestSoakVerdict(t *testing.T) {
	c := &config{soakGrowth: 0.2, soakRSSSlackMB: 8, soakGoroutineSlack: 50}
	series := func(rssMB func(i int) float64, goroutines func(i int) int64) []soakSample {
		var ss []soakSample
		for i := 0; i < 40; i++ {
			ss = append(ss, soakSample{at: time.Duration(i) * 15 * time.Second, rssKB: int64(rssMB(i) * 1024), goroutines: goroutines(i)})
		}
		return ss
	}
	flat := func(int) int64 { return 80 }
	idle := soakSample{goroutines: 20}
	for name, tc := range map[string]struct {
		samples []soakSample
		after   soakSample
		fail    bool
	}{
		"steady":                 {series(func(int) float64 { return 40 }, flat), idle, false},
		"noisy":                  {series(func(i int) float64 { return 40 + float64(i%3)*3 }, func(i int) int64 { return 80 + int64(i%4)*20 }), idle, false},
		"growth within slack":    {series(func(i int) float64 { return 40 + float64(i)*0.15 }, flat), idle, false},
		"warm-up only":           {series(func(i int) float64 { return min(30+float64(i)*10, 60) }, flat), idle, false},
		"RSS climbs":             {series(func(i int) float64 { return 40 + float64(i)*0.8 }, flat), idle, true},
		"goroutines climb":       {series(func(int) float64 { return 40 }, func(i int) int64 { return 80 + int64(i)*10 }), idle, true},
		"goroutines left behind": {series(func(int) float64 { return 40 }, flat), soakSample{goroutines: 90}, true},
	} {
		t.Run(name, func(t *testing.T) {
			v := soakVerdict(tc.samples, 100*time.Second, idle, tc.after, c)
			require.True(t, v.judged)
			require.Equal(t, tc.fail, len(v.problems) > 0, "%s %v", v.summary, v.problems)
		})
	}
	v := soakVerdict(series(func(int) float64 { return 40 }, flat)[:8], 100*time.Second, idle, idle, c)
	require.False(t, v.judged, "too few samples after the warm-up")
}
