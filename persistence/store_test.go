package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storeTests is the one table every backend runs.
var storeTests = []struct {
	name string
	run  func(t *testing.T, s Store, reopen func() Store)
}{
	{"numbering per service per day", testNumbering},
	{"concurrent create is gap-free", testConcurrentCreate},
	{"concurrent calls never double-serve", testConcurrentCall},
	{"ticket moves legal and illegal", testMoves},
	{"call refusals", testCallRefusals},
	{"transfer keeps the number", testTransfer},
	{"event log", testEventLog},
	{"counter status", testCounterStatus},
	{"expire", testExpire},
	{"duplicates", testDuplicates},
	{"invalid input", testInvalid},
	{"not found", testNotFound},
	{"list and count", testListing},
	{"active ticket cap", testActiveCap},
	{"day stats", testDayStats},
	{"seed demo", testSeedDemo},
	{"survives restart", testRestart},
	{"ticket json shape", testTicketJSON},
}

func TestStore(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range storeTests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s, reopen := b.open(t)
					tc.run(t, s, reopen)
				})
			}
		})
	}
}

func testNumbering(t *testing.T, s Store, _ func() Store) {
	f := mustService(t, s, "Finance", "F")
	r := mustService(t, s, "Registrar", "R")
	for i := 1; i <= 3; i++ {
		tk := mustTicket(t, s, f, day1)
		assert.Equal(t, i, tk.Number)
		assert.Equal(t, fmt.Sprintf("F%03d", i), tk.DisplayNumber)
		assert.Equal(t, TicketWaiting, tk.Status)
		assert.Equal(t, PriorityNormal, tk.Priority)
		assert.Equal(t, "Finance", tk.ServiceType)
		assert.Equal(t, day1, tk.ServiceDay)
	}
	assert.Equal(t, 1, mustTicket(t, s, r, day1).Number, "each service counts on its own")
	next := mustTicket(t, s, f, day2)
	assert.Equal(t, 1, next.Number, "a new day starts at 1")
	assert.Equal(t, "F001", next.DisplayNumber)
	assert.Equal(t, 4, mustTicket(t, s, f, day1).Number, "the old day goes on where it was")

	// Cancelled tickets leave gaps; numbers are never reused.
	tk := mustTicket(t, s, r, day1)
	_, err := s.CancelTicket(context.Background(), tk.ID, at(1))
	require.NoError(t, err)
	assert.Equal(t, 3, mustTicket(t, s, r, day1).Number)
}

func testConcurrentCreate(t *testing.T, s Store, reopen func() Store) {
	svcs := []Service{mustService(t, s, "Finance", "F"), mustService(t, s, "Registrar", "R"), mustService(t, s, "Admissions", "A")}
	// One owner, then two owners at once on the same database (each day
	// numbers from 1 again).
	concurrentCreate(t, svcs, day1, s)
	concurrentCreate(t, svcs, day2, s, reopen())
}

func concurrentCreate(t *testing.T, svcs []Service, day string, stores ...Store) {
	ctx := context.Background()
	const perService = 70
	type result struct {
		svc int
		tk  Ticket
	}
	results := make(chan result, perService*len(svcs))
	errs := make(chan error, perService*len(svcs))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range perService * len(svcs) {
		wg.Go(func() {
			svc := i % len(svcs)
			tk, err := stores[i%len(stores)].CreateTicket(ctx, NewTicket{ServiceID: svcs[svc].ID, ServiceDay: day}, Stamp{})
			if err != nil {
				errs <- err
				return
			}
			results <- result{svc, tk}
		})
	}
	wg.Wait()
	t.Logf("%d concurrent CreateTicket over %d services on %d store(s): %v", perService*len(svcs), len(svcs), len(stores), time.Since(start))
	close(results)
	close(errs)
	for err := range errs {
		t.Errorf("CreateTicket: %v", err)
	}
	numbers := make([][]int, len(svcs))
	for r := range results {
		numbers[r.svc] = append(numbers[r.svc], r.tk.Number)
		assert.Equal(t, DisplayNumber(svcs[r.svc].Prefix, r.tk.Number), r.tk.DisplayNumber)
	}
	want := make([]int, perService)
	for n := range want {
		want[n] = n + 1
	}
	for i := range svcs {
		slices.Sort(numbers[i])
		assert.Equal(t, want, numbers[i], "service %s: unique, gap-free, from 1", svcs[i].Name)
	}
	// The next number follows on, whichever store asks.
	assert.Equal(t, perService+1, mustTicket(t, stores[len(stores)-1], svcs[0], day).Number)
}

func testConcurrentCall(t *testing.T, s Store, reopen func() Store) {
	ctx := context.Background()
	s2 := reopen()
	svc := mustService(t, s, "Finance", "F")
	const workers = 10

	// Round 1: ten counters race over the same twenty tickets, each trying
	// every ticket in its own order. Each ticket is called at most once,
	// each counter ends up with exactly one.
	counters := make([]Counter, workers)
	for i := range counters {
		counters[i] = mustCounter(t, s, fmt.Sprintf("Counter %d", i), CounterOpen, svc)
	}
	tickets := make([]Ticket, 2*workers)
	for i := range tickets {
		tickets[i] = mustTicket(t, s, svc, day1)
	}
	var (
		mu       sync.Mutex
		calledBy = map[string][]string{} // ticket -> counters
		holds    = map[string][]string{} // counter -> tickets
	)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			st := s
			if w%2 == 1 {
				st = s2
			}
			order := rand.Perm(len(tickets))
			for _, i := range order {
				tk, err := st.CallTicket(ctx, counters[w].ID, tickets[i].ID, Stamp{Actor: "w"})
				if err != nil {
					if !errors.Is(err, ErrConflict) {
						t.Errorf("CallTicket: want a conflict, got %v", err)
					}
					continue
				}
				mu.Lock()
				calledBy[tk.ID] = append(calledBy[tk.ID], counters[w].ID)
				holds[counters[w].ID] = append(holds[counters[w].ID], tk.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d workers x %d CallTicket on 2 stores: %v", workers, len(tickets), time.Since(start))
	assert.Len(t, calledBy, workers, "every counter got a ticket")
	for id, cs := range calledBy {
		assert.Len(t, cs, 1, "ticket %s called by %v", id, cs)
	}
	for c, ts := range holds {
		assert.Len(t, ts, 1, "counter %s holds %v", c, ts)
	}
	assertConsistent(t, s)

	// Round 2: ten goroutines, ten idle counters, one ticket: exactly one
	// call wins.
	for _, c := range counters {
		cur, err := s.GetCounter(ctx, c.ID)
		require.NoError(t, err)
		_, err = s.CompleteTicket(ctx, *cur.CurrentTicketID, Stamp{})
		require.NoError(t, err)
	}
	one := mustTicket(t, s, svc, day1)
	var wins, conflicts int
	for w := range workers {
		wg.Go(func() {
			st := s
			if w%2 == 1 {
				st = s2
			}
			_, err := st.CallTicket(ctx, counters[w].ID, one.ID, Stamp{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrConflict):
				conflicts++
			default:
				t.Errorf("CallTicket: %v", err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, wins)
	assert.Equal(t, workers-1, conflicts)

	// Round 3: ten goroutines, one counter, ten tickets: the counter gets
	// exactly one.
	lone := mustCounter(t, s, "Lone", CounterOpen, svc)
	wins, conflicts = 0, 0
	for w := range workers {
		tk := mustTicket(t, s, svc, day1)
		wg.Go(func() {
			st := s
			if w%2 == 1 {
				st = s2
			}
			_, err := st.CallTicket(ctx, lone.ID, tk.ID, Stamp{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrConflict):
				conflicts++
			default:
				t.Errorf("CallTicket: %v", err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, wins)
	assert.Equal(t, workers-1, conflicts)
	assertConsistent(t, s)

	// Round 4: closing a counter races a call at it, from two owners.
	// Exactly one wins: never a closed counter with a ticket, never a
	// deadlock.
	for i := range workers {
		c := mustCounter(t, s, fmt.Sprintf("Race %d", i), CounterOpen, svc)
		tk := mustTicket(t, s, svc, day1)
		var callErr, closeErr error
		wg.Go(func() { _, callErr = s.CallTicket(ctx, c.ID, tk.ID, Stamp{}) })
		wg.Go(func() { _, _, closeErr = s2.SetCounterStatus(ctx, c.ID, CounterClosed, Stamp{}) })
		wg.Wait()
		if callErr == nil {
			assert.ErrorIs(t, closeErr, ErrCounterBusy)
		} else {
			assert.ErrorIs(t, callErr, ErrCounterNotOpen)
			assert.NoError(t, closeErr)
		}
		got, err := s.GetCounter(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, callErr == nil, got.CurrentTicketID != nil)
		assert.Equal(t, callErr == nil, got.Status == CounterOpen)
	}
	assertConsistent(t, s)
}

// assertConsistent checks that counters and serving tickets agree: each
// serving ticket is the current ticket of exactly its counter, and each
// called event matches one call.
func assertConsistent(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	counters, err := s.ListCounters(ctx)
	require.NoError(t, err)
	serving, _, err := s.ListTickets(ctx, TicketFilter{Statuses: []TicketStatus{TicketServing}, Limit: MaxPageSize})
	require.NoError(t, err)
	current := map[string]string{}
	for _, c := range counters {
		if c.CurrentTicketID != nil {
			_, dup := current[*c.CurrentTicketID]
			assert.False(t, dup, "ticket %s current at two counters", *c.CurrentTicketID)
			current[*c.CurrentTicketID] = c.ID
		}
	}
	assert.Len(t, current, len(serving))
	for _, tk := range serving {
		require.NotNil(t, tk.CounterID)
		assert.Equal(t, current[tk.ID], *tk.CounterID)
		events, err := s.ListTicketEvents(ctx, tk.ID)
		require.NoError(t, err)
		calls := 0
		for _, e := range events {
			if e.Type == EventCalled {
				calls++
			}
		}
		assert.Equal(t, 1, calls, "ticket %s", tk.ID)
	}
}

// move is one ticket lifecycle operation under test.
type move struct {
	name string
	do   func(s Store, tk Ticket, c Counter, other Service) (Ticket, error)
	// from is the only status the move starts from; to is where it ends.
	from, to TicketStatus
}

var moves = []move{
	{"call", func(s Store, tk Ticket, c Counter, _ Service) (Ticket, error) {
		return s.CallTicket(context.Background(), c.ID, tk.ID, at(5))
	}, TicketWaiting, TicketServing},
	{"recall", func(s Store, tk Ticket, _ Counter, _ Service) (Ticket, error) {
		return s.RecallTicket(context.Background(), tk.ID, at(5))
	}, TicketServing, TicketServing},
	{"complete", func(s Store, tk Ticket, _ Counter, _ Service) (Ticket, error) {
		return s.CompleteTicket(context.Background(), tk.ID, at(5))
	}, TicketServing, TicketCompleted},
	{"no-show", func(s Store, tk Ticket, _ Counter, _ Service) (Ticket, error) {
		return s.NoShowTicket(context.Background(), tk.ID, at(5))
	}, TicketServing, TicketNoShow},
	{"transfer", func(s Store, tk Ticket, _ Counter, other Service) (Ticket, error) {
		return s.TransferTicket(context.Background(), tk.ID, other.ID, at(5))
	}, TicketServing, TicketWaiting},
	{"cancel", func(s Store, tk Ticket, _ Counter, _ Service) (Ticket, error) {
		return s.CancelTicket(context.Background(), tk.ID, at(5))
	}, TicketWaiting, TicketCancelled},
}

// ticketIn makes a ticket in the given status; a serving ticket is at c.
func ticketIn(t *testing.T, s Store, svc Service, c Counter, status TicketStatus) Ticket {
	t.Helper()
	ctx := context.Background()
	tk := mustTicket(t, s, svc, day1)
	var err error
	switch status {
	case TicketWaiting:
	case TicketServing:
		tk, err = s.CallTicket(ctx, c.ID, tk.ID, at(1))
	case TicketCompleted:
		_, err = s.CallTicket(ctx, c.ID, tk.ID, at(1))
		require.NoError(t, err)
		tk, err = s.CompleteTicket(ctx, tk.ID, at(2))
	case TicketNoShow:
		_, err = s.CallTicket(ctx, c.ID, tk.ID, at(1))
		require.NoError(t, err)
		tk, err = s.NoShowTicket(ctx, tk.ID, at(2))
	case TicketCancelled:
		tk, err = s.CancelTicket(ctx, tk.ID, at(1))
	case TicketExpired:
		tk = mustTicketOn(t, s, svc, "2026-01-01")
		var ts []Ticket
		ts, err = s.ExpireBefore(ctx, "2026-01-02", at(1))
		require.Len(t, ts, 1)
		tk = ts[0]
	}
	require.NoError(t, err)
	require.Equal(t, status, tk.Status)
	return tk
}

func mustTicketOn(t *testing.T, s Store, svc Service, day string) Ticket {
	t.Helper()
	return mustTicket(t, s, svc, day)
}

func testMoves(t *testing.T, s Store, _ func() Store) {
	ctx := context.Background()
	svc := mustService(t, s, "Finance", "F")
	other := mustService(t, s, "Registrar", "R")
	statuses := []TicketStatus{TicketWaiting, TicketServing, TicketCompleted, TicketNoShow, TicketCancelled, TicketExpired}
	n := 0
	for _, m := range moves {
		for _, from := range statuses {
			n++
			c := mustCounter(t, s, fmt.Sprintf("C%d", n), CounterOpen, svc, other)
			tk := ticketIn(t, s, svc, c, from)
			got, err := m.do(s, tk, c, other)
			after, gerr := s.GetTicket(ctx, tk.ID)
			require.NoError(t, gerr)
			counter, cerr := s.GetCounter(ctx, c.ID)
			require.NoError(t, cerr)
			if from != m.from {
				assert.ErrorIs(t, err, ErrIllegalMove, "%s from %s", m.name, from)
				assert.ErrorIs(t, err, ErrConflict, "%s from %s", m.name, from)
				assert.Equal(t, tk, after, "%s from %s changed the ticket", m.name, from)
				continue
			}
			require.NoError(t, err, "%s from %s", m.name, from)
			assert.Equal(t, m.to, got.Status, m.name)
			assert.Equal(t, got, after, "%s returns the stored ticket", m.name)
			assert.Equal(t, tk.Number, got.Number)
			assert.Equal(t, tk.DisplayNumber, got.DisplayNumber)
			switch m.to {
			case TicketServing:
				require.NotNil(t, got.CounterID)
				assert.Equal(t, c.ID, *got.CounterID)
				require.NotNil(t, counter.CurrentTicketID)
				assert.Equal(t, tk.ID, *counter.CurrentTicketID)
				require.NotNil(t, got.CalledAt)
			default:
				assert.Nil(t, counter.CurrentTicketID, "%s frees the counter", m.name)
			}
			switch m.name {
			case "call":
				assert.Equal(t, at(5).At, got.CalledAt.Time)
			case "recall":
				assert.Equal(t, tk.RecallCount+1, got.RecallCount)
				assert.Equal(t, tk.CalledAt, got.CalledAt, "calledAt stays the first call")
				assert.Equal(t, at(5).At, got.LastCalledAt.Time)
			case "complete", "no-show", "cancel":
				require.NotNil(t, got.CompletedAt)
				assert.Equal(t, at(5).At, got.CompletedAt.Time)
			case "transfer":
				assert.Nil(t, got.CounterID)
				assert.Nil(t, got.CompletedAt)
			}
			events, err := s.ListTicketEvents(ctx, tk.ID)
			require.NoError(t, err)
			last := events[len(events)-1]
			assert.Equal(t, map[string]EventType{
				"call": EventCalled, "recall": EventRecalled, "complete": EventCompleted,
				"no-show": EventNoShow, "transfer": EventTransferred, "cancel": EventCancelled,
			}[m.name], last.Type)
			assert.Equal(t, at(5).At, last.At.Time)
			assert.Equal(t, ptr("staff-1"), last.Actor)
		}
	}
	assertConsistent(t, s)
}

func testCallRefusals(t *testing.T, s Store, _ func() Store) {
	ctx := context.Background()
	f := mustService(t, s, "Finance", "F")
	r := mustService(t, s, "Registrar", "R")
	open := mustCounter(t, s, "Open", CounterOpen, f)
	paused := mustCounter(t, s, "Paused", CounterPaused, f)
	closed := mustCounter(t, s, "Closed", "", f)
	assert.Equal(t, CounterClosed, closed.Status, "a new counter is closed by default")

	tk := mustTicket(t, s, f, day1)
	_, err := s.CallTicket(ctx, paused.ID, tk.ID, at(1))
	assert.ErrorIs(t, err, ErrCounterNotOpen)
	_, err = s.CallTicket(ctx, closed.ID, tk.ID, at(1))
	assert.ErrorIs(t, err, ErrCounterNotOpen)
	_, err = s.CallTicket(ctx, open.ID, mustTicket(t, s, r, day1).ID, at(1))
	assert.ErrorIs(t, err, ErrNotCounterService)
	_, err = s.CallTicket(ctx, "no-such-counter", tk.ID, at(1))
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = s.CallTicket(ctx, open.ID, "no-such-ticket", at(1))
	assert.ErrorIs(t, err, ErrNotFound)

	_, err = s.CallTicket(ctx, open.ID, tk.ID, at(1))
	require.NoError(t, err)
	_, err = s.CallTicket(ctx, open.ID, mustTicket(t, s, f, day1).ID, at(2))
	assert.ErrorIs(t, err, ErrCounterBusy, "a counter holds one ticket")

	// Paused: finishes the current ticket, calls nothing new.
	_, prev, err := s.SetCounterStatus(ctx, open.ID, CounterPaused, at(3))
	require.NoError(t, err)
	assert.Equal(t, CounterOpen, prev)
	_, err = s.CompleteTicket(ctx, tk.ID, at(4))
	require.NoError(t, err)
	_, err = s.CallTicket(ctx, open.ID, mustTicket(t, s, f, day1).ID, at(5))
	assert.ErrorIs(t, err, ErrCounterNotOpen)

	// Transfer into an inactive or unknown service is refused; the ticket
	// stays where it was.
	_, err = s.TransferTicket(ctx, tk.ID, "no-such-service", at(6))
	assert.ErrorIs(t, err, ErrNotFound)
}

func testTransfer(t *testing.T, s Store, _ func() Store) {
	ctx := context.Background()
	f := mustService(t, s, "Finance", "F")
	r := mustService(t, s, "Registrar", "R")
	cf := mustCounter(t, s, "CF", CounterOpen, f)
	cr := mustCounter(t, s, "CR", CounterOpen, r)
	mustTicket(t, s, f, day1)
	tk := mustTicket(t, s, f, day1)
	require.Equal(t, "F002", tk.DisplayNumber)
	_, err := s.CallTicket(ctx, cf.ID, tk.ID, at(1))
	require.NoError(t, err)
	moved, err := s.TransferTicket(ctx, tk.ID, r.ID, at(2))
	require.NoError(t, err)
	assert.Equal(t, TicketWaiting, moved.Status)
	assert.Equal(t, "Registrar", moved.ServiceType)
	assert.Equal(t, r.ID, moved.ServiceID)
	assert.Equal(t, f.ID, moved.IssuingServiceID)
	assert.Equal(t, 2, moved.Number)
	assert.Equal(t, "F002", moved.DisplayNumber)
	assert.Equal(t, at(2).At, moved.QueuedAt.Time, "queued at the back of the new service")
	assert.Equal(t, tk.CreatedAt, moved.CreatedAt)

	// Registrar's own numbering is untouched by the transferred F002.
	assert.Equal(t, "R001", mustTicket(t, s, r, day1).DisplayNumber)
	assert.Equal(t, "R002", mustTicket(t, s, r, day1).DisplayNumber)
	// Finance goes on at 3.
	assert.Equal(t, 3, mustTicket(t, s, f, day1).Number)

	waitingR, err := s.ListWaiting(ctx, r.ID)
	require.NoError(t, err)
	require.Len(t, waitingR, 3)
	assert.Equal(t, "F002", waitingR[2].DisplayNumber, "queued after R001 and R002 (stamped earlier)")

	// The old counter cannot call it any more; a Registrar counter can.
	_, err = s.CallTicket(ctx, cf.ID, tk.ID, at(3))
	assert.ErrorIs(t, err, ErrNotCounterService)
	again, err := s.CallTicket(ctx, cr.ID, tk.ID, at(3))
	require.NoError(t, err)
	assert.Equal(t, at(1).At, again.CalledAt.Time, "calledAt is the first call")
	assert.Equal(t, at(3).At, again.LastCalledAt.Time)
}

func testEventLog(t *testing.T, s Store, _ func() Store) {
	ctx := context.Background()
	f := mustService(t, s, "Finance", "F")
	r := mustService(t, s, "Registrar", "R")
	c1 := mustCounter(t, s, "C1", CounterOpen, f)
	c2 := mustCounter(t, s, "C2", CounterOpen, r)
	tk, err := s.CreateTicket(ctx, NewTicket{ServiceID: f.ID, ServiceDay: day1}, Stamp{At: t0})
	require.NoError(t, err)
	_, err = s.CallTicket(ctx, c1.ID, tk.ID, Stamp{Actor: "u1", At: t0.Add(time.Minute)})
	require.NoError(t, err)
	_, err = s.RecallTicket(ctx, tk.ID, Stamp{Actor: "u1", At: t0.Add(2 * time.Minute)})
	require.NoError(t, err)
	_, err = s.TransferTicket(ctx, tk.ID, r.ID, Stamp{Actor: "u1", At: t0.Add(3 * time.Minute)})
	require.NoError(t, err)
	_, err = s.CallTicket(ctx, c2.ID, tk.ID, Stamp{Actor: "u2", At: t0.Add(4 * time.Minute)})
	require.NoError(t, err)
	_, err = s.CompleteTicket(ctx, tk.ID, Stamp{Actor: "u2", At: t0.Add(5 * time.Minute)})
	require.NoError(t, err)

	events, err := s.ListTicketEvents(ctx, tk.ID)
	require.NoError(t, err)
	var got []string
	for i, e := range events {
		assert.Equal(t, tk.ID, e.TicketID)
		assert.Equal(t, t0.Add(time.Duration(i)*time.Minute), e.At.Time)
		actor, counter, from, to := "-", "-", "-", "-"
		if e.Actor != nil {
			actor = *e.Actor
		}
		if e.CounterID != nil {
			counter = map[string]string{c1.ID: "c1", c2.ID: "c2"}[*e.CounterID]
		}
		names := map[string]string{f.ID: "F", r.ID: "R"}
		if e.FromServiceID != nil {
			from = names[*e.FromServiceID]
		}
		if e.ToServiceID != nil {
			to = names[*e.ToServiceID]
		}
		got = append(got, strings.Join([]string{string(e.Type), actor, counter, from, to}, " "))
	}
	assert.Equal(t, []string{
		"created - - - -",
		"called u1 c1 - -",
		"recalled u1 c1 - -",
		"transferred u1 c1 F R",
		"called u2 c2 - -",
		"completed u2 c2 - -",
	}, got)
}

func testCounterStatus(t *testing.T, s Store, _ func() Store) {
	ctx := context.Background()
	f := mustService(t, s, "Finance", "F")
	c := mustCounter(t, s, "C1", CounterOpen, f)
	tk := mustTicket(t, s, f, day1)
	_, err := s.CallTicket(ctx, c.ID, tk.ID, at(1))
	require.NoError(t, err)

	_, prev, err := s.SetCounterStatus(ctx, c.ID, CounterClosed, at(2))
	assert.ErrorIs(t, err, ErrCounterBusy)
	assert.ErrorIs(t, err, ErrConflict)
	assert.Empty(t, prev)
	got, err := s.GetCounter(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, CounterOpen, got.Status, "refused close changes nothing")

	after, prev, err := s.SetCounterStatus(ctx, c.ID, CounterPaused, at(3))
	require.NoError(t, err)
	assert.Equal(t, CounterOpen, prev)
	assert.Equal(t, CounterPaused, after.Status)
	assert.Equal(t, []string{"Finance"}, after.Services)
	assert.Equal(t, ptr(tk.ID), after.CurrentTicketID)
	assert.Equal(t, at(3).At, after.StatusChangedAt.Time)

	_, err = s.CompleteTicket(ctx, tk.ID, at(4))
	require.NoError(t, err)
	after, prev, err = s.SetCounterStatus(ctx, c.ID, CounterClosed, at(5))
	require.NoError(t, err)
	assert.Equal(t, CounterPaused, prev)
	assert.Equal(t, CounterClosed, after.Status)
	assert.Nil(t, after.CurrentTicketID)

	after, prev, err = s.SetCounterStatus(ctx, c.ID, CounterClosed, at(6))
	require.NoError(t, err, "setting the same status is a no-op")
	assert.Equal(t, CounterClosed, prev)
	assert.Equal(t, at(5).At, after.StatusChangedAt.Time)

	_, _, err = s.SetCounterStatus(ctx, c.ID, "busy", at(7))
	assert.ErrorIs(t, err, ErrInvalid)
	_, _, err = s.SetCounterStatus(ctx, "no-such-counter", CounterOpen, at(7))
	assert.ErrorIs(t, err, ErrNotFound)
}

func testExpire(t *testing.T, s Store, _ func() Store) {
	ctx := context.Background()
	f := mustService(t, s, "Finance", "F")
	c := mustCounter(t, s, "C1", CounterOpen, f)
	old1 := mustTicket(t, s, f, day1)
	old2 := mustTicket(t, s, f, day1)
	serving := ticketIn(t, s, f, c, TicketServing)
	cancelled := ticketIn(t, s, f, c, TicketCancelled)
	today := mustTicket(t, s, f, day2)

	expired, err := s.ExpireBefore(ctx, day2, Stamp{At: t0.Add(18 * time.Hour)})
	require.NoError(t, err)
	var ids []string
	for _, tk := range expired {
		ids = append(ids, tk.ID)
		assert.Equal(t, TicketExpired, tk.Status)
		require.NotNil(t, tk.CompletedAt)
		assert.Equal(t, t0.Add(18*time.Hour), tk.CompletedAt.Time)
		events, err := s.ListTicketEvents(ctx, tk.ID)
		require.NoError(t, err)
		assert.Equal(t, EventExpired, events[len(events)-1].Type)
		assert.Nil(t, events[len(events)-1].Actor, "the system expires")
	}
	assert.ElementsMatch(t, []string{old1.ID, old2.ID}, ids)
	for id, want := range map[string]TicketStatus{serving.ID: TicketServing, cancelled.ID: TicketCancelled, today.ID: TicketWaiting} {
		got, err := s.GetTicket(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want, got.Status)
	}
	again, err := s.ExpireBefore(ctx, day2, Stamp{})
	require.NoError(t, err)
	assert.Empty(t, again)
	_, err = s.CancelTicket(ctx, old1.ID, at(1))
	assert.ErrorIs(t, err, ErrIllegalMove, "expired is terminal")
	_, err = s.ExpireBefore(ctx, "yesterday", Stamp{})
	assert.ErrorIs(t, err, ErrInvalid)
}

// sqlWords must never appear in an error a Store returns.
var sqlWords = []string{"INSERT", "SELECT", "UPDATE", "UNIQUE", "constraint", "violates", "duplicate key", "services.", "tickets", "sql:"}

func assertNoSQL(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	for _, w := range sqlWords {
		assert.NotContains(t, strings.ToLower(err.Error()), strings.ToLower(w), "error text %q", err.Error())
	}
}

func testDuplicates(t *testing.T, s Store, _ func() Store) {
	ctx := context.Background()
	f := mustService(t, s, "Finance", "F")
	for _, in := range []NewService{{Name: "Finance", Prefix: "X"}, {Name: "Other", Prefix: "F"}, {Name: "Other", Prefix: "f"}} {
		_, err := s.CreateService(ctx, in)
		assert.ErrorIs(t, err, ErrDuplicate, "%+v", in)
		assertNoSQL(t, err)
	}
	mustCounter(t, s, "C1", CounterOpen, f)
	_, err := s.CreateCounter(ctx, NewCounter{Name: "C1", ServiceIDs: []string{f.ID}})
	assert.ErrorIs(t, err, ErrDuplicate)
	assertNoSQL(t, err)
	_, err = s.CreateUser(ctx, NewUser{Username: "ann", PasswordHash: "h", Role: RoleStaff})
	require.NoError(t, err)
	_, err = s.CreateUser(ctx, NewUser{Username: "ann", PasswordHash: "h2", Role: RoleAdmin})
	assert.ErrorIs(t, err, ErrDuplicate)
	assertNoSQL(t, err)
}

func testInvalid(t *testing.T, s Store, _ func() Store) {
	ctx := context.Background()
	f := mustService(t, s, "Finance", "F")
	for _, in := range []NewService{{Name: "", Prefix: "A"}, {Name: "A", Prefix: ""}, {Name: "A", Prefix: "ABCD"}, {Name: "A", Prefix: "A1"}, {Name: "A", Prefix: "A", TargetWaitSeconds: -1}} {
		_, err := s.CreateService(ctx, in)
		assert.ErrorIs(t, err, ErrInvalid, "%+v", in)
	}
	for _, in := range []NewCounter{{Name: "C"}, {Name: "", ServiceIDs: []string{f.ID}}, {Name: "C", ServiceIDs: []string{"nope"}}, {Name: "C", ServiceIDs: []string{f.ID}, Status: "busy"}} {
		_, err := s.CreateCounter(ctx, in)
		assert.ErrorIs(t, err, ErrInvalid, "%+v", in)
		assertNoSQL(t, err)
	}
	for _, in := range []NewTicket{{ServiceID: f.ID, ServiceDay: "26/01/2026"}, {ServiceID: f.ID, ServiceDay: day1, Priority: "urgent"}, {ServiceDay: day1}} {
		_, err := s.CreateTicket(ctx, in, Stamp{})
		assert.ErrorIs(t, err, ErrInvalid, "%+v", in)
	}
	for _, in := range []NewUser{{Username: "u", PasswordHash: "h", Role: "root"}, {Username: "", PasswordHash: "h", Role: RoleAdmin}, {Username: "u", Role: RoleAdmin}} {
		_, err := s.CreateUser(ctx, in)
		assert.ErrorIs(t, err, ErrInvalid, "%+v", in)
	}
	// A user bound to a counter that does not exist: the foreign key.
	_, err := s.CreateUser(ctx, NewUser{Username: "u", PasswordHash: "h", Role: RoleStaff, CounterID: ptr("nope")})
	assert.ErrorIs(t, err, ErrInvalid)
	assertNoSQL(t, err)
	_, _, err = s.ListTickets(ctx, TicketFilter{Limit: -1})
	assert.ErrorIs(t, err, ErrInvalid)
}

func testNotFound(t *testing.T, s Store, _ func() Store) {
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["GetService"] = s.GetService(ctx, "nope")
	_, checks["GetServiceByName"] = s.GetServiceByName(ctx, "nope")
	_, checks["GetCounter"] = s.GetCounter(ctx, "nope")
	_, checks["GetUser"] = s.GetUser(ctx, "nope")
	_, checks["GetUserByUsername"] = s.GetUserByUsername(ctx, "nope")
	_, checks["GetTicket"] = s.GetTicket(ctx, "nope")
	_, checks["CreateTicket"] = s.CreateTicket(ctx, NewTicket{ServiceID: "nope", ServiceDay: day1}, Stamp{})
	_, checks["RecallTicket"] = s.RecallTicket(ctx, "nope", Stamp{})
	_, checks["CompleteTicket"] = s.CompleteTicket(ctx, "nope", Stamp{})
	_, checks["NoShowTicket"] = s.NoShowTicket(ctx, "nope", Stamp{})
	_, checks["CancelTicket"] = s.CancelTicket(ctx, "nope", Stamp{})
	_, checks["TransferTicket"] = s.TransferTicket(ctx, "nope", "nope", Stamp{})
	_, checks["ListTicketEvents"] = s.ListTicketEvents(ctx, "nope")
	for name, err := range checks {
		assert.ErrorIs(t, err, ErrNotFound, name)
		assertNoSQL(t, err)
	}

	// A failing database gives an internal error without its text.
	require.NoError(t, s.Close())
	_, err := s.GetTicket(ctx, "x")
	assert.ErrorIs(t, err, ErrInternal)
	assertNoSQL(t, err)
}

func testListing(t *testing.T, s Store, _ func() Store) {
	ctx := context.Background()
	f := mustService(t, s, "Finance", "F")
	r := mustService(t, s, "Registrar", "R")
	c := mustCounter(t, s, "C1", CounterOpen, f, r)
	var made []Ticket
	for i := range 6 {
		svc := []Service{f, r}[i%2]
		tk, err := s.CreateTicket(ctx, NewTicket{ServiceID: svc.ID, UserID: fmt.Sprintf("u%d", i%3), ServiceDay: day1,
			Priority: []Priority{PriorityNormal, PriorityVIP, PriorityPriority}[i%3]}, at(i))
		require.NoError(t, err)
		made = append(made, tk)
	}
	_, err := s.CallTicket(ctx, c.ID, made[0].ID, at(10))
	require.NoError(t, err)
	_, err = s.CancelTicket(ctx, made[3].ID, at(10))
	require.NoError(t, err)

	all, total, err := s.ListTickets(ctx, TicketFilter{})
	require.NoError(t, err)
	assert.Equal(t, 6, total)
	require.Len(t, all, 6)
	assert.Equal(t, made[5].ID, all[0].ID, "newest first")

	page, total, err := s.ListTickets(ctx, TicketFilter{Limit: 2, Offset: 2})
	require.NoError(t, err)
	assert.Equal(t, 6, total)
	assert.Equal(t, []string{made[3].ID, made[2].ID}, []string{page[0].ID, page[1].ID})

	fin, total, err := s.ListTickets(ctx, TicketFilter{ServiceType: "Finance", Statuses: []TicketStatus{TicketWaiting, TicketServing}})
	require.NoError(t, err)
	assert.Equal(t, 3, total)
	assert.Len(t, fin, 3)
	mine, total, err := s.ListTickets(ctx, TicketFilter{UserID: "u0"})
	require.NoError(t, err)
	assert.Equal(t, 2, total)
	assert.Equal(t, ptr("u0"), mine[0].UserID)
	_, total, err = s.ListTickets(ctx, TicketFilter{CounterID: c.ID, ServiceDay: day1, ServiceID: f.ID})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	none, total, err := s.ListTickets(ctx, TicketFilter{ServiceDay: day2})
	require.NoError(t, err)
	assert.Equal(t, 0, total)
	assert.NotNil(t, none, "an empty list, not nil")

	waiting, err := s.ListWaiting(ctx)
	require.NoError(t, err)
	var ids []string
	for _, tk := range waiting {
		ids = append(ids, tk.ID)
	}
	assert.Equal(t, []string{made[1].ID, made[2].ID, made[4].ID, made[5].ID}, ids, "in order of arrival")
	waitingF, err := s.ListWaiting(ctx, f.ID)
	require.NoError(t, err)
	assert.Len(t, waitingF, 2)

	for user, want := range map[string]int{"u0": 1, "u1": 2, "u2": 2, "nobody": 0} {
		n, err := s.CountActiveTickets(ctx, user)
		require.NoError(t, err)
		assert.Equal(t, want, n, user)
	}

	svcs, err := s.ListServices(ctx)
	require.NoError(t, err)
	require.Len(t, svcs, 2)
	assert.Equal(t, Service{ID: f.ID, Name: "Finance", Prefix: "F", Active: true, DefaultServiceSeconds: 180, TargetWaitSeconds: 600, CreatedAt: f.CreatedAt}, svcs[0])
	byName, err := s.GetServiceByName(ctx, "Registrar")
	require.NoError(t, err)
	assert.Equal(t, r, byName)

	u, err := s.CreateUser(ctx, NewUser{Username: "staff", PasswordHash: "bcrypt", Role: RoleStaff, CounterID: &c.ID})
	require.NoError(t, err)
	got, err := s.GetUserByUsername(ctx, "staff")
	require.NoError(t, err)
	assert.Equal(t, u, got)
	got, err = s.GetUser(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, u, got)
}

func testSeedDemo(t *testing.T, s Store, reopen func() Store) {
	ctx := context.Background()
	s2 := reopen()
	// Two nodes seeding at once: exactly one does it.
	var wg sync.WaitGroup
	seeded := make([]bool, 4)
	for i := range seeded {
		wg.Go(func() {
			st := []Store{s, s2}[i%2]
			ok, err := st.SeedDemo(ctx)
			assert.NoError(t, err)
			seeded[i] = ok
		})
	}
	wg.Wait()
	assert.Equal(t, 1, len(slices.DeleteFunc(seeded, func(b bool) bool { return !b })))
	ok, err := s.SeedDemo(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "idempotent")

	svcs, err := s.ListServices(ctx)
	require.NoError(t, err)
	var got []string
	for _, svc := range svcs {
		got = append(got, svc.Name+" "+svc.Prefix)
	}
	assert.Equal(t, []string{"Admissions A", "Finance F", "Registrar R"}, got)
	counters, err := s.ListCounters(ctx)
	require.NoError(t, err)
	got = nil
	for _, c := range counters {
		got = append(got, fmt.Sprintf("%s %s %v", c.Name, c.Status, c.Services))
		assert.Len(t, c.ServiceIDs, len(c.Services))
	}
	assert.Equal(t, []string{
		"Counter 1 open [Finance Registrar]",
		"Counter 2 open [Admissions Registrar]",
		"Counter 3 open [Admissions Finance Registrar]",
	}, got)
}

func testRestart(t *testing.T, s Store, reopen func() Store) {
	ctx := context.Background()
	f := mustService(t, s, "Finance", "F")
	c := mustCounter(t, s, "C1", CounterOpen, f)
	serving := ticketIn(t, s, f, c, TicketServing)
	waiting := mustTicket(t, s, f, day1)
	require.NoError(t, s.Close())

	s2 := reopen() // migrations again: a no-op
	require.NoError(t, s2.Ping(ctx))
	got, err := s2.GetCounter(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, ptr(serving.ID), got.CurrentTicketID)
	w, err := s2.ListWaiting(ctx)
	require.NoError(t, err)
	require.Len(t, w, 1)
	assert.Equal(t, waiting, w[0])
	assert.Equal(t, 3, mustTicket(t, s2, f, day1).Number)
}

func testTicketJSON(t *testing.T, s Store, _ func() Store) {
	f := mustService(t, s, "Finance", "F")
	tk, err := s.CreateTicket(context.Background(), NewTicket{ServiceID: f.ID, ServiceDay: day1, Priority: PriorityVIP},
		Stamp{At: time.Date(2026, 1, 26, 9, 15, 0, 123456789, time.FixedZone("EAT", 3*3600))})
	require.NoError(t, err)
	b, err := json.Marshal(tk)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	assert.Equal(t, []string{"calledAt", "completedAt", "counterId", "createdAt", "displayNumber", "estimatedWaitSeconds",
		"id", "number", "position", "priority", "recallCount", "serviceType", "status", "userId"}, keys)
	assert.Equal(t, "2026-01-26T06:15:00.123Z", m["createdAt"])
	assert.Equal(t, "F001", m["displayNumber"])
	assert.Equal(t, "vip", m["priority"])
	assert.Nil(t, m["calledAt"])
	assert.Nil(t, m["userId"])
}

// Twenty concurrent creations by one user over two services, through two
// owners of the database, issue exactly MaxActive tickets.
func testActiveCap(t *testing.T, s Store, reopen func() Store) {
	ctx := context.Background()
	svcs := []Service{mustService(t, s, "Finance", "F"), mustService(t, s, "Registrar", "R")}
	stores := []Store{s, reopen()}
	const max = 3
	create := func(i int) (Ticket, error) {
		return stores[i%2].CreateTicket(ctx, NewTicket{ServiceID: svcs[i%2].ID, UserID: "greedy", ServiceDay: day1, MaxActive: max}, Stamp{})
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		issued  []Ticket
		refused int
	)
	for i := range 20 {
		wg.Go(func() {
			tk, err := create(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				issued = append(issued, tk)
			case errors.Is(err, ErrTooManyActive):
				assert.ErrorIs(t, err, ErrConflict)
				refused++
			default:
				t.Errorf("CreateTicket: %v", err)
			}
		})
	}
	wg.Wait()
	require.Len(t, issued, max)
	assert.Equal(t, 20-max, refused)
	n, err := s.CountActiveTickets(ctx, "greedy")
	require.NoError(t, err)
	assert.Equal(t, max, n)

	// Others are not capped by it, and an ended ticket frees a place.
	_, err = s.CreateTicket(ctx, NewTicket{ServiceID: svcs[0].ID, UserID: "modest", ServiceDay: day1, MaxActive: max}, Stamp{})
	require.NoError(t, err)
	_, err = s.CancelTicket(ctx, issued[0].ID, Stamp{})
	require.NoError(t, err)
	_, err = create(0)
	require.NoError(t, err)
	_, err = create(1)
	require.ErrorIs(t, err, ErrTooManyActive)
}

func testDayStats(t *testing.T, s Store, _ func() Store) {
	ctx := context.Background()
	f := mustService(t, s, "Finance", "F")
	r := mustService(t, s, "Registrar", "R")
	c := mustCounter(t, s, "Desk", CounterOpen, f, r)
	serve := func(svc Service, end func(context.Context, string, Stamp) (Ticket, error)) {
		tk := mustTicket(t, s, svc, day1)
		_, err := s.CallTicket(ctx, c.ID, tk.ID, at(1))
		require.NoError(t, err)
		_, err = end(ctx, tk.ID, at(2))
		require.NoError(t, err)
	}
	serve(f, s.CompleteTicket)
	serve(f, s.CompleteTicket)
	serve(f, s.NoShowTicket)
	serve(r, s.CompleteTicket)
	_, err := s.CancelTicket(ctx, mustTicket(t, s, r, day1).ID, at(3))
	require.NoError(t, err)
	mustTicket(t, s, r, day1) // waiting
	mustTicket(t, s, f, day2) // another day

	st, err := s.DayStats(ctx, day1, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, ServiceDayStats{Arrivals: 4, Served: 2, NoShows: 1}, st.Services[f.ID])
	assert.Equal(t, ServiceDayStats{Arrivals: 3, Served: 1, Cancelled: 1}, st.Services[r.ID])
	assert.Equal(t, CounterDayStats{Served: 3, NoShows: 1}, st.Counters[c.ID])

	// Arrivals count from the instant given.
	st, err = s.DayStats(ctx, day1, time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Zero(t, st.Services[f.ID].Arrivals)
	assert.Equal(t, 2, st.Services[f.ID].Served)
	_, err = s.DayStats(ctx, "yesterday", time.Time{})
	require.ErrorIs(t, err, ErrInvalid)
}
