package queue

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/persistence"
)

func TestBuildMetrics(t *testing.T) {
	services := map[string]persistence.Service{
		"A": {ID: "a", Name: "A", TargetWaitSeconds: 600},
		"B": {ID: "b", Name: "B", TargetWaitSeconds: 600},
		"C": {ID: "c", Name: "C", TargetWaitSeconds: 600},
	}
	ptr := func(v int) *int { return &v }
	open, paused := persistence.CounterOpen, persistence.CounterPaused
	for _, tc := range []struct {
		name       string
		states     []State
		counters   []CounterState
		arrivals   map[string]int // by service id, over 15 minutes
		rho        map[string]*float64
		overloaded map[string]bool
		load       map[string]int
		recommend  map[string]string // counter name -> substring
	}{
		{
			name: "quiet",
			states: []State{
				{ServiceType: "A", OpenCounters: 1, MeanServiceSeconds: 120, EstimatedWaitSeconds: ptr(0)},
			},
			counters: []CounterState{{ID: "1", Name: "K1", Services: []string{"A"}, Status: open}},
			arrivals: map[string]int{"a": 3}, // 0.2/min x 120 s = 0.4
			rho:      map[string]*float64{"A": new(0.4)},
			load:     map[string]int{"K1": 40},
		},
		{
			name: "rho over 0.85: open a paused counter of the service",
			states: []State{
				{ServiceType: "A", OpenCounters: 1, MeanServiceSeconds: 180, EstimatedWaitSeconds: ptr(100)},
				{ServiceType: "B", OpenCounters: 1, MeanServiceSeconds: 180, EstimatedWaitSeconds: ptr(0)},
			},
			counters: []CounterState{
				{ID: "1", Name: "K1", Services: []string{"A"}, Status: open},
				{ID: "2", Name: "K2", Services: []string{"B"}, Status: open},
				{ID: "3", Name: "K3", Services: []string{"A", "B"}, Status: paused},
			},
			arrivals:   map[string]int{"a": 5}, // 1/3 per min x 180 s = 1
			rho:        map[string]*float64{"A": new(1.0), "B": new(0.0)},
			overloaded: map[string]bool{"A": true},
			load:       map[string]int{"K1": 100, "K2": 0, "K3": 0},
			recommend:  map[string]string{"K3": "open this counter: A"},
		},
		{
			name: "estimate over target: add the service to the least loaded open counter",
			states: []State{
				{ServiceType: "A", Waiting: 40, OpenCounters: 1, MeanServiceSeconds: 60, EstimatedWaitSeconds: ptr(2400)},
				{ServiceType: "B", OpenCounters: 1, MeanServiceSeconds: 60, EstimatedWaitSeconds: ptr(0)},
				{ServiceType: "C", OpenCounters: 1, MeanServiceSeconds: 60, EstimatedWaitSeconds: ptr(0)},
			},
			counters: []CounterState{
				{ID: "1", Name: "K1", Services: []string{"A"}, Status: open},
				{ID: "2", Name: "K2", Services: []string{"B"}, Status: open},
				{ID: "3", Name: "K3", Services: []string{"C"}, Status: open},
			},
			arrivals:   map[string]int{"a": 1, "b": 6, "c": 3}, // rho 0.067, 0.4, 0.2
			rho:        map[string]*float64{"A": new(0.067), "B": new(0.4), "C": new(0.2)},
			overloaded: map[string]bool{"A": true},
			load:       map[string]int{"K1": 7, "K2": 40, "K3": 20},
			recommend:  map[string]string{"K3": "add A to this counter's services"},
		},
		{
			name: "no open counter with tickets waiting",
			states: []State{
				{ServiceType: "A", Waiting: 2},
				{ServiceType: "B", OpenCounters: 1, MeanServiceSeconds: 60, EstimatedWaitSeconds: ptr(0)},
			},
			counters: []CounterState{
				{ID: "1", Name: "K1", Services: []string{"A", "B"}, Status: open},
				{ID: "2", Name: "K2", Services: []string{"A"}, Status: persistence.CounterClosed},
			},
			rho:        map[string]*float64{"A": nil, "B": new(0.0)},
			overloaded: map[string]bool{"A": true},
			load:       map[string]int{"K1": 100, "K2": 0},
			recommend:  map[string]string{"K2": "open this counter: A"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stats := persistence.DayStats{Services: map[string]persistence.ServiceDayStats{}}
			for id, n := range tc.arrivals {
				stats.Services[id] = persistence.ServiceDayStats{Arrivals: n}
			}
			m := buildMetrics(tc.states, tc.counters, services, stats)
			for _, s := range m.Services {
				if want, ok := tc.rho[s.ServiceType]; ok {
					if want == nil {
						assert.Nil(t, s.Utilisation, s.ServiceType)
					} else {
						require.NotNil(t, s.Utilisation, s.ServiceType)
						assert.InDelta(t, *want, *s.Utilisation, 1e-9, s.ServiceType)
					}
				}
				assert.Equal(t, tc.overloaded[s.ServiceType], s.Overloaded, s.ServiceType)
			}
			for _, c := range m.Counters {
				assert.Equal(t, tc.load[c.Name], c.LoadScore, c.Name)
				if want := tc.recommend[c.Name]; want != "" {
					assert.Contains(t, c.Recommendation, want, c.Name)
				} else {
					assert.Empty(t, c.Recommendation, c.Name)
				}
			}
		})
	}
}
