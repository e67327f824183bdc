package server_test

import (
	"github.com/queuecast/queuecast/persistence"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/gateway/server"
)

// Twenty concurrent creations by one customer over three services (three
// service actors, so nothing but the store serialises them) issue exactly
// MAX_ACTIVE_TICKETS tickets; the rest get 429.
func TestActiveTicketCapIsAtomic(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			const max = 4
			h := start(t, server.Config{Database: d.db(t), MaxActiveTickets: max})
			customer := h.token(auth.Identity{UserID: "cust-greedy", Role: auth.RoleCustomer})
			services := []string{"Finance", "Registrar", "Admissions"}
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				codes = map[int]int{}
			)
			for i := range 20 {
				wg.Go(func() {
					code, out := h.do("POST", "/api/tickets", customer, map[string]any{"serviceType": services[i%3]})
					if code != 201 && code != 429 {
						t.Errorf("create: %d %s", code, out)
					}
					mu.Lock()
					codes[code]++
					mu.Unlock()
				})
			}
			wg.Wait()
			require.Equal(t, map[int]int{201: max, 429: 20 - max}, codes)
			var page struct{ Total int }
			h.expect(200, "GET", "/api/tickets?status=waiting", h.staff, nil, &page)
			require.Equal(t, max, page.Total)

			// Staff naming the same user meet the same cap.
			h.expect(429, "POST", "/api/tickets", h.staff, map[string]any{"serviceType": "Finance", "userId": "cust-greedy"}, nil)
		})
	}
}

// A staff token carrying counterId acts only on that counter: call-next,
// status changes and moves of the ticket it serves. Admins and unbound staff
// act on any counter.
func TestStaffBoundToCounter(t *testing.T) { forEachDatabase(t, testStaffBoundToCounter) }

func testStaffBoundToCounter(t *testing.T, db func(*testing.T) persistence.Config) {
	h := start(t, server.Config{Database: db(t)})
	cs := h.counters()
	c1, c2 := cs["Counter 1"].ID, cs["Counter 2"].ID
	bound := h.token(auth.Identity{UserID: "staff-ann", Role: auth.RoleStaff, CounterID: c1})
	h.create("Finance", "")
	h.create("Registrar", "")

	h.expect(403, "POST", "/api/counters/"+c2+"/call-next", bound, nil, nil)
	h.expect(403, "PATCH", "/api/counters/"+c2, bound, map[string]any{"status": "paused"}, nil)
	var own moved
	h.expect(200, "POST", "/api/counters/"+c1+"/call-next", bound, nil, &own)

	var other moved
	h.expect(200, "POST", "/api/counters/"+c2+"/call-next", h.staff, nil, &other)
	for _, mv := range []string{"recall", "complete", "no-show"} {
		h.expect(403, "POST", "/api/tickets/"+other.Ticket.ID+"/"+mv, bound, nil, nil)
	}
	h.expect(403, "POST", "/api/tickets/"+other.Ticket.ID+"/transfer", bound, map[string]any{"serviceType": "Finance"}, nil)
	h.expect(200, "POST", "/api/tickets/"+own.Ticket.ID+"/recall", bound, nil, nil)
	h.expect(200, "POST", "/api/tickets/"+own.Ticket.ID+"/complete", bound, nil, nil)
	h.expect(200, "PATCH", "/api/counters/"+c1, bound, map[string]any{"status": "paused"}, nil)

	// Admins and unbound staff act anywhere.
	h.expect(200, "POST", "/api/tickets/"+other.Ticket.ID+"/complete", h.admin, nil, nil)
	h.expect(200, "PATCH", "/api/counters/"+c2, h.staff, map[string]any{"status": "paused"}, nil)
	h.expect(200, "PATCH", "/api/counters/"+c1, h.admin, map[string]any{"status": "open"}, nil)
}
