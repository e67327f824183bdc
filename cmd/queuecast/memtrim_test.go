package main

import (
	"io"
	"log/slog"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var burst [][]byte

func released() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// The trimmer leaves a busy or a steadily quiet process alone and gives a
// burst's memory back once the burst is over.
func TestMemTrimmerReleasesAfterABurst(t *testing.T) {
	tr := newMemTrimmer(time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tr.minGap = 0
	require.False(t, tr.check(), "no burst yet")

	for i := 0; i < 16<<10; i++ {
		burst = append(burst, make([]byte, 4<<10)) // 64 MB of small objects, live for now
	}
	require.False(t, tr.check(), "an interval that allocated 64 MB is busy")
	burst = nil // the burst is over: all of it is garbage

	before := released()
	require.True(t, tr.check(), "the first quiet interval after the burst")
	require.Greater(t, released(), before+32<<20, "the burst's memory went back to the OS")

	require.False(t, tr.check(), "quiet since the last trim")
}
