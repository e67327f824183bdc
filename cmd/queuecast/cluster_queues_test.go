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

// kill -9 of the node holding the queue actors: the queues answer again on
// the survivors (the time is printed), and no acknowledged ticket is lost
// or duplicated.
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
	var acked []apiTicket
	create := func(nd *node, key string) (int, apiTicket) {
		code, out, _ := request(t, nd, "POST", "/api/tickets", admin, map[string]any{"serviceType": "Finance"}, map[string]string{"Idempotency-Key": key})
		var r struct{ Ticket apiTicket }
		if code == 201 {
			require.NoError(t, json.Unmarshal(out, &r))
			acked = append(acked, r.Ticket)
		}
		return code, r.Ticket
	}
	for i := range 20 {
		code, _ := create(survivors[i%2], "before-"+strconv.Itoa(i))
		require.Equal(t, 201, code)
	}

	owner.kill(t)
	killed := time.Now()
	// Until the survivors see the owner gone and the new one has loaded,
	// a creation waits for it or answers 503; either way a retry with the
	// same key is safe.
	var answered time.Duration
	for i := 0; ; i++ {
		key := "after-" + strconv.Itoa(i)
		code, _ := create(survivors[i%2], key)
		if code == 201 {
			answered = time.Since(killed)
			break
		}
		require.Equal(t, 503, code)
		require.Less(t, time.Since(killed), 15*time.Second, "the queues never answered again")
		code, _ = create(survivors[(i+1)%2], key) // the same request, retried on the other node
		if code == 201 {
			answered = time.Since(killed)
			break
		}
	}
	t.Logf("after kill -9 of the queue owner the survivors created a ticket again %v later", answered)
	require.Less(t, answered, 5*time.Second)
	require.NotNil(t, holder(survivors), "a survivor holds the queue actors")

	// Every acknowledged ticket is in the line once, as both survivors see.
	byID := map[string]bool{}
	for _, tk := range acked {
		byID[tk.ID] = true
	}
	for _, nd := range survivors {
		require.Equal(t, len(byID), states(t, nd, admin)["Finance"].Waiting, nd.name)
		for _, tk := range acked {
			code, out, _ := request(t, nd, "GET", "/api/tickets/"+tk.ID, admin, nil, nil)
			require.Equal(t, 200, code, string(out))
			var got apiTicket
			require.NoError(t, json.Unmarshal(out, &got))
			require.Equal(t, "waiting", got.Status)
		}
	}
	// The database audit: no number given twice, nothing served, and the
	// line holds exactly the acknowledged tickets.
	var n, numbers, serving int
	require.NoError(t, database(t, survivors[0]).QueryRow(`SELECT count(*), count(DISTINCT number),
		count(*) FILTER (WHERE status <> 'waiting') FROM tickets`).Scan(&n, &numbers, &serving))
	require.Equal(t, n, numbers, "a number given twice")
	require.Zero(t, serving)
	require.Equal(t, len(byID), n, "tickets in the database against acknowledged ones")
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
