package queue

import (
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/queuecast/queuecast/persistence"
)

// ArrivalWindow is the span the arrival rate is measured over.
const ArrivalWindow = 15 * time.Minute

// overloadRho is the utilisation above which a service is overloaded.
const overloadRho = 0.85

// ServiceMetrics is a service's State with the day's figures.
type ServiceMetrics struct {
	State
	// ArrivalRate is tickets issued per minute over the last ArrivalWindow.
	ArrivalRate float64 `json:"arrivalRate"`
	// Utilisation is rho = arrivals x mean service time / open counters;
	// null with no open counter.
	Utilisation       *float64 `json:"utilisation"`
	TargetWaitSeconds int      `json:"targetWaitSeconds"`
	// Overloaded: rho > 0.85, the estimate over the target, or tickets
	// waiting (or arriving) with no open counter.
	Overloaded         bool `json:"overloaded"`
	ServedToday        int  `json:"servedToday"`
	NoShowsToday       int  `json:"noShowsToday"`
	CancellationsToday int  `json:"cancellationsToday"`
}

// CounterMetrics is a counter's state with the day's figures, its load and
// what to do about an overloaded service.
type CounterMetrics struct {
	CounterState
	ServedToday  int `json:"servedToday"`
	NoShowsToday int `json:"noShowsToday"`
	// LoadScore is 0-100: the highest utilisation among the counter's
	// services, capped at 1 (an overloaded service with no open counter
	// counts as 1); 0 for a counter that is not open.
	LoadScore int `json:"loadScore"`
	// Recommendation, when a service is overloaded: open this counter (it
	// serves the service), or add the service to this open, less loaded
	// counter.
	Recommendation string `json:"recommendation,omitempty"`
}

// Metrics are the queue figures of loadBalancingMetrics.
type Metrics struct {
	Services []ServiceMetrics
	Counters []CounterMetrics
}

// Counters returns every counter's live state, ordered by name, from the
// counters' views.
func (q *Queues) Counters() []CounterState {
	dir := q.env.dir.Load()
	now := q.env.now()
	out := make([]CounterState, 0, len(dir.counters))
	for _, e := range dir.counters {
		if v := e.view.Load(); v != nil {
			out = append(out, v.state(now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Metrics reads every service's and counter's view and asks the store for
// the day's counts. It runs in the caller's goroutine (the metrics
// broadcaster), never inside a queue actor.
func (q *Queues) Metrics(ctx context.Context) (Metrics, error) {
	states, counters := q.States(), q.Counters()
	now := q.env.now()
	stats, err := q.env.store.DayStats(ctx, persistence.ServiceDay(now, q.env.loc), now.Add(-ArrivalWindow))
	if err != nil {
		return Metrics{}, err
	}
	services := map[string]persistence.Service{}
	for _, s := range q.Services() {
		services[s.Name] = s
	}
	return buildMetrics(states, counters, services, stats), nil
}

// buildMetrics derives utilisation, overload, load scores and
// recommendations from the live states and the day's counts.
func buildMetrics(states []State, counters []CounterState, services map[string]persistence.Service, stats persistence.DayStats) Metrics {
	m := Metrics{Services: make([]ServiceMetrics, 0, len(states)), Counters: make([]CounterMetrics, 0, len(counters))}
	byName := map[string]ServiceMetrics{}
	for _, st := range states {
		svc := services[st.ServiceType]
		day := stats.Services[svc.ID]
		sm := ServiceMetrics{
			State: st, ArrivalRate: float64(day.Arrivals) / ArrivalWindow.Minutes(), TargetWaitSeconds: svc.TargetWaitSeconds,
			ServedToday: day.Served, NoShowsToday: day.NoShows, CancellationsToday: day.Cancelled,
		}
		if st.OpenCounters > 0 {
			rho := sm.ArrivalRate / 60 * st.MeanServiceSeconds / float64(st.OpenCounters)
			rho = math.Round(rho*1000) / 1000
			sm.Utilisation = &rho
			sm.Overloaded = rho > overloadRho ||
				(st.EstimatedWaitSeconds != nil && svc.TargetWaitSeconds > 0 && *st.EstimatedWaitSeconds > svc.TargetWaitSeconds)
		} else {
			sm.Overloaded = st.Waiting > 0 || day.Arrivals > 0
		}
		m.Services = append(m.Services, sm)
		byName[st.ServiceType] = sm
	}
	for _, c := range counters {
		day := stats.Counters[c.ID]
		cm := CounterMetrics{CounterState: c, ServedToday: day.Served, NoShowsToday: day.NoShows}
		if c.Status == persistence.CounterOpen {
			load := 0.0
			for _, name := range c.Services {
				sm := byName[name]
				switch {
				case sm.Utilisation != nil:
					load = max(load, min(1, *sm.Utilisation))
				case sm.Overloaded:
					load = 1
				}
			}
			cm.LoadScore = int(math.Round(load * 100))
		}
		m.Counters = append(m.Counters, cm)
	}
	recommend(m)
	return m
}

// recommend gives each overloaded service (in name order) one counter to
// act on: the first counter that serves it but is not open ("open"), or
// else the least loaded open counter that does not serve it and serves no
// overloaded service ("add the service"). A counter gets one
// recommendation at most.
func recommend(m Metrics) {
	overloaded := map[string]bool{}
	for _, s := range m.Services {
		if s.Overloaded {
			overloaded[s.ServiceType] = true
		}
	}
	for _, s := range m.Services {
		if !s.Overloaded {
			continue
		}
		pick := -1
		for i, c := range m.Counters {
			if c.Recommendation == "" && c.Status != persistence.CounterOpen && slices.Contains(c.Services, s.ServiceType) {
				pick = i
				break
			}
		}
		if pick >= 0 {
			m.Counters[pick].Recommendation = "open this counter: " + s.ServiceType + " is overloaded"
			continue
		}
		for i, c := range m.Counters {
			if c.Recommendation != "" || c.Status != persistence.CounterOpen || slices.Contains(c.Services, s.ServiceType) || servesAny(c.Services, overloaded) {
				continue
			}
			if pick < 0 || c.LoadScore < m.Counters[pick].LoadScore {
				pick = i
			}
		}
		if pick >= 0 {
			m.Counters[pick].Recommendation = "add " + s.ServiceType + " to this counter's services: " + s.ServiceType + " is overloaded"
		}
	}
}

func servesAny(services []string, set map[string]bool) bool {
	for _, s := range services {
		if set[s] {
			return true
		}
	}
	return false
}
