package queue

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/persistence"
)

func TestOrderWithAgeing(t *testing.T) {
	now := time.Date(2026, 1, 26, 12, 0, 0, 0, time.UTC)
	ageing := 10 * time.Minute
	tk := func(n int, p persistence.Priority, waited time.Duration) *persistence.Ticket {
		return &persistence.Ticket{Number: n, Priority: p, QueuedAt: persistence.NewTimestamp(now.Add(-waited))}
	}
	for _, tc := range []struct {
		name string
		a, b *persistence.Ticket
		want bool // a before b
	}{
		{"vip before priority", tk(2, persistence.PriorityVIP, 0), tk(1, persistence.PriorityPriority, time.Minute), true},
		{"priority before normal", tk(2, persistence.PriorityPriority, 0), tk(1, persistence.PriorityNormal, 5*time.Minute), true},
		{"earlier first in a class", tk(1, persistence.PriorityNormal, 2*time.Minute), tk(2, persistence.PriorityNormal, time.Minute), true},
		{"number breaks ties", tk(1, persistence.PriorityNormal, time.Minute), tk(2, persistence.PriorityNormal, time.Minute), true},
		{"a normal ticket ages past priority", tk(1, persistence.PriorityNormal, 11*time.Minute), tk(2, persistence.PriorityPriority, 0), true},
		{"and past vip after two steps", tk(1, persistence.PriorityNormal, 21*time.Minute), tk(2, persistence.PriorityVIP, 0), true},
		{"not before", tk(1, persistence.PriorityNormal, 19*time.Minute), tk(2, persistence.PriorityVIP, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, before(tc.a, tc.b, now, ageing))
			require.Equal(t, !tc.want, before(tc.b, tc.a, now, ageing))
		})
	}
}

func TestEstimate(t *testing.T) {
	require.Nil(t, estimate(3, 180, 0, 0))
	require.Equal(t, 270, *estimate(3, 180, 0, 2))
	require.Equal(t, 541, *estimate(3, 180, 1, 1))
	require.Equal(t, 0, *estimate(0, 180, 0, 1))
}
