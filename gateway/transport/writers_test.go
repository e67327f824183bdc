package transport

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadyListStaysBounded replays a load under which the ready list never
// empties (every outbox taken is scheduled again): the list must stay
// bounded by the number of outboxes, not grow with time.
func TestReadyListStaysBounded(t *testing.T) {
	w := &writers{}
	const n = 2000
	outs := make([]*Outbox, n)
	for i := range outs {
		outs[i] = &Outbox{}
		w.ready = append(w.ready, outs[i])
	}
	var batch [writerBatch]*Outbox
	maxLen := 0
	for round := 0; round < 200_000; round++ {
		k := w.takeLocked(batch[:])
		for i := 0; i < k; i++ {
			w.ready = append(w.ready, batch[i])
		}
		maxLen = max(maxLen, len(w.ready))
	}
	require.LessOrEqual(t, maxLen, 2*n+1024)
	require.Equal(t, n, len(w.ready)-w.head, "no outbox lost or duplicated")
}
