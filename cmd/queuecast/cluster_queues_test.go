package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/auth"
)

// The queue tests of cluster mode: one queue system over three nodes.

// queueEnv turns the per-address and per-token REST limits off: the tests
// send hundreds of requests from one address and token.
var queueEnv = []string{"REST_RATE_PER_IP=0", "REST_RATE_PER_TOKEN=0"}

type apiTicket struct {
	ID            string  `json:"id"`
	Number        int     `json:"number"`
	DisplayNumber string  `json:"displayNumber"`
	ServiceType   string  `json:"serviceType"`
	Status        string  `json:"status"`
	Position      *int    `json:"position"`
	CalledAt      *string `json:"calledAt"`
}

type apiState struct {
	ServiceType string `json:"serviceType"`
	Waiting     int    `json:"waiting"`
	Serving     int    `json:"serving"`
}

var queueClient = &http.Client{Timeout: 30 * time.Second}

// request sends a JSON request with extra headers; it answers the status,
// the body and the response headers.
func request(t *testing.T, nd *node, method, path, token string, body any, header map[string]string) (int, []byte, http.Header) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, nd.base+path, r)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := queueClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, out, res.Header
}

func states(t *testing.T, nd *node, token string) map[string]apiState {
	t.Helper()
	code, out, _ := request(t, nd, "GET", "/api/queues", token, nil, nil)
	require.Equal(t, 200, code, "%s: %s", nd.name, out)
	var l struct{ Items []apiState }
	require.NoError(t, json.Unmarshal(out, &l))
	m := make(map[string]apiState, len(l.Items))
	for _, s := range l.Items {
		m[s.ServiceType] = s
	}
	return m
}

// queueCluster starts three nodes and waits until exactly one of them
// holds the queue actors.
func queueCluster(t *testing.T) ([]*node, string) {
	t.Helper()
	nodes := startCluster(t, 3, queueEnv...)
	require.Eventually(t, func() bool { return holder(nodes) != nil }, 15*time.Second, 50*time.Millisecond, "no node holds the queue actors")
	authority := auth.NewAuthority([]byte(clusterSecret))
	admin, err := authority.Issue(auth.Identity{UserID: "admin-q", Role: auth.RoleAdmin}, time.Hour)
	require.NoError(t, err)
	return nodes, admin
}

// holder is the one live node holding the queue actors, nil while none or
// more than one does.
func holder(nodes []*node) *node {
	var h *node
	for _, nd := range nodes {
		select {
		case <-nd.done:
			continue
		default:
		}
		switch metric(nd, "queuecast_cluster_queue_holder") {
		case 1:
			if h != nil {
				return nil
			}
			h = nd
		case 0:
		default:
			return nil
		}
	}
	return h
}

// A service created on node 2 takes tickets on node 1 at once; a ticket
// created on node 3 is in the line on every node (waiting count, position);
// a creation retried with the same Idempotency-Key on another node returns
// the same ticket.
func TestClusterOneQueueSystem(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three server processes")
	}
	nodes, admin := queueCluster(t)
	owner := holder(nodes)
	t.Logf("queue actors on %s", owner.name)
	for _, nd := range nodes {
		t.Logf("GET /api/queues on %s (holder: %v): p50 %v over 200", nd.name, nd == owner, p50(t, nd, admin, 200))
	}

	code, out, _ := request(t, nodes[1], "POST", "/api/services", admin, map[string]any{"name": "Library", "prefix": "L"}, nil)
	require.Equal(t, 201, code, string(out))
	created := time.Now()
	code, out, _ = request(t, nodes[0], "POST", "/api/tickets", admin, map[string]any{"serviceType": "Library"}, nil)
	require.Equal(t, 201, code, "a service made on node 2, used on node 1: %s", out)
	t.Logf("a service created on node 2 took a ticket on node 1 %v later", time.Since(created))
	require.Less(t, time.Since(created), time.Second)
	code, out, _ = request(t, nodes[2], "POST", "/api/counters", admin, map[string]any{"name": "Desk L", "services": []string{"Library"}, "status": "open"}, nil)
	require.Equal(t, 201, code, string(out))
	var desk struct{ ID string }
	require.NoError(t, json.Unmarshal(out, &desk))

	var second struct{ Ticket apiTicket }
	code, out, _ = request(t, nodes[2], "POST", "/api/tickets", admin, map[string]any{"serviceType": "Library"}, nil)
	require.Equal(t, 201, code, string(out))
	require.NoError(t, json.Unmarshal(out, &second))
	for _, nd := range nodes {
		require.Equal(t, 2, states(t, nd, admin)["Library"].Waiting, "%s: waiting in Library", nd.name)
		code, out, _ := request(t, nd, "GET", "/api/tickets/"+second.Ticket.ID, admin, nil, nil)
		require.Equal(t, 200, code, string(out))
		var got apiTicket
		require.NoError(t, json.Unmarshal(out, &got))
		require.NotNil(t, got.Position, "%s: %s", nd.name, out)
		require.Equal(t, 2, *got.Position, "%s: the second ticket is second in line", nd.name)
	}

	// Idempotency-Key: the first attempt on node 1, its retry on node 3.
	key := map[string]string{"Idempotency-Key": "retry-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	var first, again struct{ Ticket apiTicket }
	code, out, _ = request(t, nodes[0], "POST", "/api/tickets", admin, map[string]any{"serviceType": "Library"}, key)
	require.Equal(t, 201, code, string(out))
	require.NoError(t, json.Unmarshal(out, &first))
	code, out, h := request(t, nodes[2], "POST", "/api/tickets", admin, map[string]any{"serviceType": "Library"}, key)
	require.Equal(t, 201, code, string(out))
	require.NoError(t, json.Unmarshal(out, &again))
	require.Equal(t, first.Ticket.ID, again.Ticket.ID, "the retry on another node returns the first ticket")
	require.Equal(t, "true", h.Get("Idempotent-Replayed"))
	for _, nd := range nodes {
		require.Equal(t, 3, states(t, nd, admin)["Library"].Waiting, "%s: the retry made no ticket", nd.name)
	}

	// Call-next on node 2 calls the head, the ticket created first on node 1.
	code, out, _ = request(t, nodes[1], "POST", "/api/counters/"+desk.ID+"/call-next", admin, nil, nil)
	require.Equal(t, 200, code, string(out))
	var called struct{ Ticket apiTicket }
	require.NoError(t, json.Unmarshal(out, &called))
	require.Equal(t, "L001", called.Ticket.DisplayNumber)
	for _, nd := range nodes {
		s := states(t, nd, admin)["Library"]
		require.Equal(t, apiState{ServiceType: "Library", Waiting: 2, Serving: 1}, s, nd.name)
	}
}

// Six counters on three nodes drain 300 waiting tickets concurrently:
// every ticket is served once, and each service's tickets are called in
// queue order.
func TestClusterCountersDrainQueues(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three server processes")
	}
	nodes, admin := queueCluster(t)
	services := []string{"Finance", "Registrar", "Admissions"}
	const tickets, counters = 300, 6

	created := make(map[string]apiTicket, tickets)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < tickets; i += 6 {
				code, out, _ := request(t, nodes[i%3], "POST", "/api/tickets", admin, map[string]any{"serviceType": services[i%3]}, nil)
				if !assertStatus(t, 201, code, out) {
					return
				}
				var r struct{ Ticket apiTicket }
				if err := json.Unmarshal(out, &r); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				created[r.Ticket.ID] = r.Ticket
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, created, tickets)
	total := 0
	for _, s := range states(t, nodes[1], admin) {
		total += s.Waiting
	}
	require.Equal(t, tickets, total, "every ticket waits, as node 2 sees it")

	ids := make([]string, counters)
	for i := range ids {
		code, out, _ := request(t, nodes[i%3], "POST", "/api/counters", admin,
			map[string]any{"name": fmt.Sprintf("Drain %d", i), "services": services, "status": "open"}, nil)
		require.Equal(t, 201, code, string(out))
		var k struct{ ID string }
		require.NoError(t, json.Unmarshal(out, &k))
		ids[i] = k.ID
	}

	var served []apiTicket
	began := time.Now()
	for i, id := range ids {
		nd := nodes[i%3]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				code, out, _ := request(t, nd, "POST", "/api/counters/"+id+"/call-next", admin, nil, nil)
				if code == 404 {
					return // nothing waits for this counter
				}
				if !assertStatus(t, 200, code, out) {
					return
				}
				var r struct{ Ticket apiTicket }
				if err := json.Unmarshal(out, &r); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				served = append(served, r.Ticket)
				mu.Unlock()
				code, out, _ = request(t, nd, "POST", "/api/tickets/"+r.Ticket.ID+"/complete", admin, nil, nil)
				if !assertStatus(t, 200, code, out) {
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("six counters on three nodes served %d tickets in %v", len(served), time.Since(began))

	seen := make(map[string]bool, len(served))
	for _, tk := range served {
		require.False(t, seen[tk.ID], "ticket %s served twice", tk.DisplayNumber)
		seen[tk.ID] = true
		require.Contains(t, created, tk.ID)
	}
	require.Len(t, seen, tickets, "every ticket served")
	// The order of the calls is the order of their events in the
	// database (an identity column): per service, by ticket number.
	db := database(t, nodes[0])
	rows, err := db.Query(`SELECT s.name, t.number, t.display_number FROM ticket_events e
		JOIN tickets t ON t.id = e.ticket_id JOIN services s ON s.id = t.service_id
		WHERE e.type = 'called' ORDER BY e.id`)
	require.NoError(t, err)
	defer rows.Close()
	last, calls := map[string]int{}, 0
	for rows.Next() {
		var svc, display string
		var number int
		require.NoError(t, rows.Scan(&svc, &number, &display))
		require.Greater(t, number, last[svc], "%s: %s called after a later ticket", svc, display)
		last[svc] = number
		calls++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, tickets, calls, "one call per ticket in the database")
	for _, nd := range nodes {
		for svc, s := range states(t, nd, admin) {
			require.Zero(t, s.Waiting+s.Serving, "%s: %s drained", nd.name, svc)
		}
	}
}

// assertStatus reports a wrong status from a goroutine (no FailNow).
func assertStatus(t *testing.T, want, code int, body []byte) bool {
	if code != want {
		t.Errorf("status %d, want %d: %s", code, want, body)
		return false
	}
	return true
}

// kill -9 of the node holding the queue actors during ticket creation and
// call-next traffic on the other two: the queues answer again within 5 s
// (the longest gap between answers is printed), and a database audit finds
// no acknowledged ticket lost or duplicated, no ticket called twice, and no
// counter holding a ticket it is not serving. Every request carries an
// Idempotency-Key and is retried under it until it is answered, as a
// client should.
func TestClusterQueueOwnerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three server processes")
	}
	nodes, admin := queueCluster(t)
	owner := holder(nodes)
	var survivors []*node
	for _, nd := range nodes {
		if nd != owner {
			survivors = append(survivors, nd)
		}
	}
	counterIDs := make([]string, 2)
	for i := range counterIDs {
		code, out, _ := request(t, survivors[i], "POST", "/api/counters", admin,
			map[string]any{"name": fmt.Sprintf("Failover %d", i), "services": []string{"Finance"}, "status": "open"}, nil)
		require.Equal(t, 201, code, string(out))
		var k struct{ ID string }
		require.NoError(t, json.Unmarshal(out, &k))
		counterIDs[i] = k.ID
	}

	var (
		mu       sync.Mutex
		created  = map[string]bool{}
		called   = map[string]int{}
		answers  []time.Time
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		failures []string
	)
	answered := func() {
		mu.Lock()
		answers = append(answers, time.Now())
		mu.Unlock()
	}
	// send retries one request under one key, alternating the survivors,
	// until it is answered with something other than 503.
	send := func(i int, method, path string, body any, key string) (int, []byte) {
		for try := 0; ; try++ {
			code, out, _ := request(t, survivors[(i+try)%2], method, path, admin, body, map[string]string{"Idempotency-Key": key})
			if code != 503 || try > 200 {
				return code, out
			}
		}
	}
	for w := range 2 {
		wg.Add(2)
		go func() { // a kiosk
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				code, out := send(w, "POST", "/api/tickets", map[string]any{"serviceType": "Finance"}, fmt.Sprintf("create-%d-%d", w, n))
				var r struct{ Ticket apiTicket }
				if code != 201 || json.Unmarshal(out, &r) != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("create: %d %s", code, out))
					mu.Unlock()
					return
				}
				mu.Lock()
				created[r.Ticket.ID] = true
				mu.Unlock()
				answered()
			}
		}()
		go func() { // a counter
			defer wg.Done()
			id := counterIDs[w]
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				code, out := send(w, "POST", "/api/counters/"+id+"/call-next", nil, fmt.Sprintf("call-%d-%d", w, n))
				if code == 404 {
					answered()
					continue // nothing waiting yet
				}
				var r struct{ Ticket apiTicket }
				if code != 200 || json.Unmarshal(out, &r) != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("call-next: %d %s", code, out))
					mu.Unlock()
					return
				}
				mu.Lock()
				called[r.Ticket.ID]++
				mu.Unlock()
				answered()
				// Complete is not keyed: a retry after a lost answer may find
				// it done (409).
				code, out = send(w, "POST", "/api/tickets/"+r.Ticket.ID+"/complete", nil, "")
				if code != 200 && code != 409 {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("complete: %d %s", code, out))
					mu.Unlock()
					return
				}
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(answers)
	}
	require.Eventually(t, func() bool { return count() >= 100 }, 20*time.Second, 5*time.Millisecond, "traffic before the kill")
	owner.kill(t)
	killed := time.Now()
	before := count()
	require.Eventually(t, func() bool { return count() >= before+100 }, 20*time.Second, 5*time.Millisecond, "traffic after the kill")
	close(stop)
	wg.Wait()
	require.Empty(t, failures)

	var gap time.Duration
	for i := 1; i < len(answers); i++ {
		if answers[i].After(killed) {
			prev := answers[i-1]
			if prev.Before(killed) {
				prev = killed
			}
			gap = max(gap, answers[i].Sub(prev))
		}
	}
	t.Logf("kill -9 of the queue owner %s: the queues answered again within %v (the longest wait for an answer after it); %d tickets created, %d called",
		owner.name, gap, len(created), len(called))
	require.Less(t, gap, 5*time.Second)
	require.NotNil(t, holder(survivors), "a survivor holds the queue actors")

	db := database(t, survivors[0])
	var n, numbers int
	require.NoError(t, db.QueryRow(`SELECT count(*), count(DISTINCT (issuing_service_id, service_day, number)) FROM tickets`).Scan(&n, &numbers))
	require.Equal(t, n, numbers, "a number given twice")
	require.Equal(t, len(created), n, "tickets in the database against acknowledged creations: none lost, none made twice")
	for id, k := range called {
		require.Equal(t, 1, k, "ticket %s acknowledged as called %d times", id, k)
	}
	var twice, orphan int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM (SELECT ticket_id FROM ticket_events WHERE type = 'called'
		GROUP BY ticket_id HAVING count(*) > 1) x`).Scan(&twice))
	require.Zero(t, twice, "tickets called twice")
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM counters c LEFT JOIN tickets t ON t.id = c.current_ticket_id
		WHERE c.current_ticket_id IS NOT NULL AND (t.status <> 'serving' OR t.counter_id <> c.id)`).Scan(&orphan))
	require.Zero(t, orphan, "a counter holding a ticket it is not serving")
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM tickets t WHERE t.status = 'serving'
		AND NOT EXISTS (SELECT 1 FROM counters c WHERE c.current_ticket_id = t.id)`).Scan(&orphan))
	require.Zero(t, orphan, "a ticket served at no counter")
}

// database opens the cluster's PostgreSQL schema, as the node uses it.
func database(t *testing.T, nd *node) *sql.DB {
	t.Helper()
	for _, kv := range nd.env {
		if dsn, ok := strings.CutPrefix(kv, "DATABASE_URL="); ok {
			db, err := sql.Open("pgx", dsn)
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			return db
		}
	}
	t.Fatal("no DATABASE_URL")
	return nil
}

// p50 is the median time of n sequential GET /api/queues on nd.
func p50(t *testing.T, nd *node, token string, n int) time.Duration {
	t.Helper()
	d := make([]time.Duration, n)
	for i := range d {
		began := time.Now()
		code, out, _ := request(t, nd, "GET", "/api/queues", token, nil, nil)
		d[i] = time.Since(began)
		require.Equal(t, 200, code, string(out))
	}
	slices.Sort(d)
	return d[n/2]
}
