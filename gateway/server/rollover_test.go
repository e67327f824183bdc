package server_test

import (
	"github.com/queuecast/queuecast/persistence"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/actors/queue"
	"github.com/queuecast/queuecast/gateway/server"
)

// At the end of the service day (Africa/Nairobi) waiting tickets expire and
// numbering restarts at 1; a ticket being served is left alone.
func TestServiceDayRollover(t *testing.T) { forEachDatabase(t, testServiceDayRollover) }

func testServiceDayRollover(t *testing.T, db func(*testing.T) persistence.Config) {
	var now atomic.Pointer[time.Time]
	set := func(v time.Time) { now.Store(&v) }
	set(time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC)) // 23:00 in Nairobi
	h := start(t, server.Config{Database: db(t), Queue: queue.Config{
		Clock: func() time.Time { return *now.Load() },
	}})
	c1 := h.counters()["Counter 1"].ID
	f1 := h.create("Finance", "")
	f2 := h.create("Finance", "")
	r1 := h.create("Registrar", "")
	require.Equal(t, 2, f2.Ticket.Number)
	var call moved
	h.expect(200, "POST", "/api/counters/"+c1+"/call-next", h.staff, nil, &call)
	serving := call.Ticket.ID

	set(time.Date(2026, 3, 10, 20, 59, 0, 0, time.UTC)) // still the 10th there
	h.srv.Queues.CheckDay()
	require.Equal(t, 3, h.create("Finance", "").Ticket.Number)

	set(time.Date(2026, 3, 10, 21, 0, 1, 0, time.UTC)) // 00:00:01 on the 11th
	h.srv.Queues.CheckDay()
	status := func(id string) string {
		var tk ticket
		h.expect(200, "GET", "/api/tickets/"+id, h.staff, nil, &tk)
		return tk.Status
	}
	for _, tk := range []created{f1, f2, r1} {
		if tk.Ticket.ID == serving {
			continue
		}
		require.Eventually(t, func() bool { return status(tk.Ticket.ID) == "expired" }, 5*time.Second, 10*time.Millisecond)
	}
	require.Equal(t, "serving", status(serving))
	next := h.create("Finance", "")
	require.Equal(t, 1, next.Ticket.Number)
	require.Equal(t, "F001", next.Ticket.DisplayNumber)

	var queues struct {
		Items []struct {
			ServiceType string
			Waiting     int
		}
	}
	h.expect(200, "GET", "/api/queues", "", nil, &queues)
	for _, q := range queues.Items {
		if q.ServiceType == "Finance" {
			require.Equal(t, 1, q.Waiting)
		} else {
			require.Zero(t, q.Waiting, q.ServiceType)
		}
	}
}
