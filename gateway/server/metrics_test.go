package server_test

import (
	"github.com/queuecast/queuecast/persistence"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/server"
)

type metricsBody struct {
	Queues []struct {
		ServiceType        string
		Waiting            int
		OpenCounters       int
		ArrivalRate        float64
		Utilisation        *float64
		Overloaded         bool
		ServedToday        int
		NoShowsToday       int
		CancellationsToday int
	}
	Counters []struct {
		ID                 string
		Name               string
		Status             string
		CurrentTicketID    *string
		CurrentTicket      *string
		ServedToday        int
		NoShowsToday       int
		MeanServiceSeconds float64
		IdleSeconds        int
		LoadScore          int
		Recommendation     string
	}
}

// GET /api/admin/metrics carries per service the day's counts, the arrival
// rate and utilisation, and per counter its state, the day's counts, a load
// score and, for an overloaded service, a recommendation.
func TestMetricsServicesAndCounters(t *testing.T) { forEachDatabase(t, testMetricsServicesAndCounters) }

func testMetricsServicesAndCounters(t *testing.T, db func(*testing.T) persistence.Config) {
	// The broadcaster never ticks here: every GET collects afresh.
	h := start(t, server.Config{Database: db(t), MetricsInterval: time.Hour})
	cs := h.counters()
	c1, c2, c3 := cs["Counter 1"].ID, cs["Counter 2"].ID, cs["Counter 3"].ID
	h.expect(200, "PATCH", "/api/counters/"+c3, h.admin, map[string]any{"status": "paused"}, nil)
	for range 20 {
		h.create("Finance", "")
	}
	h.create("Registrar", "")
	r := h.create("Registrar", "")
	h.expect(200, "POST", "/api/tickets/"+r.Ticket.ID+"/cancel", h.staff, nil, nil)

	var m moved
	h.expect(200, "POST", "/api/counters/"+c1+"/call-next", h.staff, nil, &m)
	h.expect(200, "POST", "/api/tickets/"+m.Ticket.ID+"/complete", h.staff, nil, nil)
	h.expect(200, "POST", "/api/counters/"+c1+"/call-next", h.staff, nil, &m)
	h.expect(200, "POST", "/api/tickets/"+m.Ticket.ID+"/no-show", h.staff, nil, nil)
	h.expect(200, "POST", "/api/counters/"+c1+"/call-next", h.staff, nil, &m)
	require.Equal(t, "F003", m.Ticket.DisplayNumber)

	h.expect(403, "GET", "/api/admin/metrics", h.staff, nil, nil)
	var body metricsBody
	h.expect(200, "GET", "/api/admin/metrics", h.admin, nil, &body)

	require.Len(t, body.Queues, 3)
	for _, q := range body.Queues {
		switch q.ServiceType {
		case "Finance":
			require.Equal(t, 17, q.Waiting)
			require.Equal(t, 1, q.OpenCounters)
			require.InDelta(t, 20.0/15, q.ArrivalRate, 1e-9)
			require.NotNil(t, q.Utilisation)
			require.Greater(t, *q.Utilisation, 0.85)
			require.True(t, q.Overloaded)
			require.Equal(t, 1, q.ServedToday)
			require.Equal(t, 1, q.NoShowsToday)
			require.Zero(t, q.CancellationsToday)
		case "Registrar":
			require.Equal(t, 2, q.OpenCounters)
			require.InDelta(t, 2.0/15, q.ArrivalRate, 1e-9)
			require.InDelta(t, 0.2, *q.Utilisation, 1e-9) // 2/15 per min x 180 s / 2 counters
			require.False(t, q.Overloaded)
			require.Equal(t, 1, q.CancellationsToday)
			require.Zero(t, q.ServedToday)
		case "Admissions":
			require.Zero(t, *q.Utilisation)
			require.False(t, q.Overloaded)
		default:
			t.Fatalf("unexpected service %q", q.ServiceType)
		}
	}

	require.Len(t, body.Counters, 3)
	byID := map[string]int{}
	for i, c := range body.Counters {
		byID[c.ID] = i
		require.Positive(t, c.MeanServiceSeconds, c.Name)
		require.GreaterOrEqual(t, c.LoadScore, 0)
		require.LessOrEqual(t, c.LoadScore, 100)
	}
	k1, k2, k3 := body.Counters[byID[c1]], body.Counters[byID[c2]], body.Counters[byID[c3]]
	require.Equal(t, "open", k1.Status)
	require.Equal(t, m.Ticket.ID, *k1.CurrentTicketID)
	require.Equal(t, "F003", *k1.CurrentTicket)
	require.Equal(t, 1, k1.ServedToday)
	require.Equal(t, 1, k1.NoShowsToday)
	require.Zero(t, k1.IdleSeconds)
	require.Equal(t, 100, k1.LoadScore) // Finance is over capacity
	require.Empty(t, k1.Recommendation)

	require.Nil(t, k2.CurrentTicketID)
	require.Equal(t, 20, k2.LoadScore) // Registrar's rho 0.2
	require.GreaterOrEqual(t, k2.IdleSeconds, 0)
	require.Empty(t, k2.Recommendation)

	require.Equal(t, "paused", k3.Status)
	require.Zero(t, k3.LoadScore)
	require.Contains(t, k3.Recommendation, "open this counter")
	require.Contains(t, k3.Recommendation, "Finance")
}
