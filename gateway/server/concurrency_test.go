package server_test

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/server"
	"github.com/queuecast/queuecast/persistence"
)

var databases = []struct {
	name string
	db   func(*testing.T) persistence.Config
}{
	{"sqlite", sqliteDB},
	{"postgres", postgresDB},
}

// forEachDatabase runs test once on SQLite and once on PostgreSQL.
func forEachDatabase(t *testing.T, test func(*testing.T, func(*testing.T) persistence.Config)) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) { test(t, d.db) })
	}
}

// 1,000 concurrent creations over three services: numbers per service are
// unique and gap-free.
func TestConcurrentCreationNumbersAreGapFree(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			// A thousand requests queue up at once; under -race on a busy
			// machine the last ones wait longer than REQUEST_TIMEOUT's
			// default, and this test is about numbering, not latency.
			h := start(t, server.Config{Database: d.db(t), RequestTimeout: 25 * time.Second})
			services := []string{"Finance", "Registrar", "Admissions"}
			const n = 1000
			var (
				mu      sync.Mutex
				numbers = map[string][]int{}
				wg      sync.WaitGroup
				failed  atomic.Int64
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					svc := services[i%len(services)]
					code, out := h.do("POST", "/api/tickets", "", map[string]any{"serviceType": svc})
					if code != 201 {
						failed.Add(1)
						t.Errorf("create: %d %s", code, out)
						return
					}
					var c created
					if err := jsonUnmarshal(out, &c); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					numbers[svc] = append(numbers[svc], c.Ticket.Number)
					mu.Unlock()
				}()
			}
			wg.Wait()
			require.Zero(t, failed.Load())
			for i, svc := range services {
				got := numbers[svc]
				sort.Ints(got)
				want := n / len(services)
				if i < n%len(services) {
					want++
				}
				require.Len(t, got, want, svc)
				for j, v := range got {
					require.Equal(t, j+1, v, "%s numbers are not 1..n", svc)
				}
			}
			var page struct{ Total int }
			h.expect(200, "GET", "/api/tickets?status=waiting", h.staff, nil, &page)
			require.Equal(t, n, page.Total)
		})
	}
}

// Ten counters calling at once over 500 tickets serve every ticket exactly
// once, and no counter ever holds two tickets: two workers share each
// counter, and a call that succeeds while the counter is marked holding
// would be a second ticket at once.
func TestConcurrentCallNextServesEachTicketOnce(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			h := start(t, server.Config{Database: d.db(t)})
			for _, c := range h.counters() { // the demo counters stay out of it
				h.expect(200, "PATCH", "/api/counters/"+c.ID, h.admin, map[string]any{"status": "closed"}, nil)
			}
			services := []string{"Finance", "Registrar", "Admissions"}
			var ids []string
			for i := range 10 {
				var k counter
				h.expect(201, "POST", "/api/counters", h.admin, map[string]any{
					"name": fmt.Sprintf("Desk %d", i), "services": services, "status": "open"}, &k)
				ids = append(ids, k.ID)
			}
			const n = 500
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if code, out := h.do("POST", "/api/tickets", "", map[string]any{"serviceType": services[i%3]}); code != 201 {
						t.Errorf("create: %d %s", code, out)
					}
				}()
			}
			wg.Wait()

			var (
				mu     sync.Mutex
				served = map[string]int{}
			)
			holding := make([]atomic.Bool, len(ids))
			for ci, id := range ids {
				for range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							code, out := h.do("POST", "/api/counters/"+id+"/call-next", h.staff, nil)
							switch code {
							case 404:
								return
							case 409: // the other worker of this counter holds a ticket
								continue
							case 200:
							default:
								t.Errorf("call-next: %d %s", code, out)
								return
							}
							if !holding[ci].CompareAndSwap(false, true) {
								t.Errorf("counter %s holds two tickets", id)
								return
							}
							var m moved
							if err := jsonUnmarshal(out, &m); err != nil {
								t.Error(err)
								return
							}
							mu.Lock()
							served[m.Ticket.ID]++
							mu.Unlock()
							holding[ci].Store(false)
							if code, out := h.do("POST", "/api/tickets/"+m.Ticket.ID+"/complete", h.staff, nil); code != 200 {
								t.Errorf("complete: %d %s", code, out)
								return
							}
						}
					}()
				}
			}
			wg.Wait()
			require.Len(t, served, n)
			for id, k := range served {
				require.Equal(t, 1, k, "ticket %s served %d times", id, k)
			}
			var page struct{ Total int }
			h.expect(200, "GET", "/api/tickets?status=completed", h.staff, nil, &page)
			require.Equal(t, n, page.Total)
		})
	}
}
