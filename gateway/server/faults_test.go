package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/server"
	"github.com/queuecast/queuecast/persistence"
)

// requestTimeout is short in these tests so that a locked database turns
// into failure answers quickly; the work inside it gets the time left after
// ask.Margin.
const requestTimeout = 3 * time.Second

// send is harness.do with request headers, returning the answer's headers.
func (h *harness) send(method, path, token string, body any, headers map[string]string) (int, http.Header, []byte) {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(h.t, err)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.base+path, r)
	require.NoError(h.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := h.client.Do(req)
	require.NoError(h.t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(h.t, err)
	return res.StatusCode, res.Header, out
}

// lockTickets takes an ACCESS EXCLUSIVE lock on the tickets table from a
// connection of its own, as an operator's long migration or a stuck batch
// job would: every read and write of tickets waits until release.
func lockTickets(t *testing.T, dsn string) (release func()) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	tx, err := db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec(`LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback()
			_ = db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// createInBackground posts a create and delivers its status code.
func (h *harness) createInBackground(service string) <-chan int {
	done := make(chan int, 1)
	go func() {
		code, _ := h.do("POST", "/api/tickets", "", map[string]any{"serviceType": service})
		done <- code
	}()
	return done
}

// countTickets counts the rows of the tickets table.
func countTickets(t *testing.T, dsn string) int {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM tickets`).Scan(&n))
	return n
}

func (h *harness) waiting(service string) int {
	h.t.Helper()
	var l struct {
		Items []struct {
			ServiceType string
			Waiting     int
		}
	}
	h.expect(200, "GET", "/api/queues", "", nil, &l)
	for _, s := range l.Items {
		if s.ServiceType == service {
			return s.Waiting
		}
	}
	h.t.Fatalf("no queue %s", service)
	return 0
}

func (h *harness) openCounter(name string) counter {
	h.t.Helper()
	c := h.counters()[name]
	h.expect(200, "PATCH", "/api/counters/"+c.ID, h.staff, map[string]any{"status": "open"}, nil)
	return c
}

// With the tickets table locked, every create answers 503, and none of
// them is committed once the lock goes: a failure answer means "not done",
// so a client that retries never holds two tickets.
func TestCreatesAnswered503AreNeverCommittedLater(t *testing.T) {
	db := postgresDB(t)
	h := start(t, server.Config{Database: db, RequestTimeout: requestTimeout})
	release := lockTickets(t, db.DatabaseURL)

	const n = 12
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() { codes[i], _ = h.do("POST", "/api/tickets", "", map[string]any{"serviceType": "Finance"}) })
	}
	wg.Wait()
	for i, c := range codes {
		require.Equalf(t, 503, c, "create %d", i)
	}
	release()

	// The service actor handles its mailbox in order: once a create sent
	// now has its answer, every create above has been dealt with.
	c := h.create("Finance", "")
	require.Equal(t, "F001", c.Ticket.DisplayNumber, "no number was used by a create that answered 503")
	require.Equal(t, 1, countTickets(t, db.DatabaseURL))
	require.Equal(t, 1, h.waiting("Finance"))
}

// A call-next that answers 503 is not carried out later, so the counter is
// not left serving a ticket it says it is not. The call waits behind a
// create that holds the service actor on a locked table; before, the
// counter gave up on the service actor while the take sat in its mailbox,
// the take committed later, and complete and call-next answered 409 until a
// restart.
func TestCallNextAnswered503LeavesTheCounterUsable(t *testing.T) {
	db := postgresDB(t)
	h := start(t, server.Config{Database: db, RequestTimeout: requestTimeout})
	c := h.openCounter("Counter 1")
	tk := h.create("Finance", "")
	release := lockTickets(t, db.DatabaseURL)
	blocked := h.createInBackground("Finance")
	waitForLockWaiter(t, db.DatabaseURL)

	code, out := h.do("POST", "/api/counters/"+c.ID+"/call-next", h.staff, nil)
	require.Equal(t, 503, code, string(out))
	require.Equal(t, 503, <-blocked)
	release()

	// The service actor handles its mailbox in order: once this create has
	// its answer, the call-next's take has been dealt with too.
	h.create("Finance", "")
	require.Nil(t, counterInDB(t, db.DatabaseURL, c.ID), "the database has the counter serving nobody")
	var m moved
	h.expect(200, "POST", "/api/counters/"+c.ID+"/call-next", h.staff, nil, &m)
	require.Equal(t, tk.Ticket.ID, m.Ticket.ID)
	h.expect(200, "POST", "/api/tickets/"+tk.Ticket.ID+"/complete", h.staff, nil, nil)
	require.Nil(t, h.counters()["Counter 1"].CurrentTicketID)
}

// counterInDB reads a counter's current ticket from the database itself.
func counterInDB(t *testing.T, dsn, id string) *string {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	var cur *string
	require.NoError(t, db.QueryRow(`SELECT current_ticket_id FROM counters WHERE id = $1`, id).Scan(&cur))
	return cur
}

// GET /api/queues, /api/services and /api/counters answer from the actors'
// views while a service actor waits on the locked database inside a
// create. The reads get a client that waits 2 s: a read queued behind the
// database would wait for the lock, which is held far longer.
func TestQueuesAnswerWhileTheDatabaseIsBusy(t *testing.T) {
	db := postgresDB(t)
	h := start(t, server.Config{Database: db, RequestTimeout: 30 * time.Second})
	h.create("Finance", "")
	release := lockTickets(t, db.DatabaseURL)
	done := h.createInBackground("Finance")
	waitForLockWaiter(t, db.DatabaseURL)
	impatient := *h
	impatient.client = &http.Client{Timeout: 2 * time.Second}
	require.Equal(t, 1, impatient.waiting("Finance"))
	impatient.expect(200, "GET", "/api/services", "", nil, nil)
	impatient.expect(200, "GET", "/api/counters", "", nil, nil)
	select {
	case code := <-done:
		t.Fatalf("the create ended (%d) before the reads were answered; the test proves nothing", code)
	default:
	}
	release()
	require.Equal(t, 201, <-done)
}

// /ready answers 503 while ticket writes cannot go through, and 200 again
// once they can.
func TestReadyFailsWhileWritesFail(t *testing.T) {
	db := postgresDB(t)
	h := start(t, server.Config{Database: db, RequestTimeout: requestTimeout})
	h.expect(200, "GET", "/ready", "", nil, nil)
	release := lockTickets(t, db.DatabaseURL)
	h.expect(503, "GET", "/ready", "", nil, nil)
	release()
	h.expect(200, "GET", "/ready", "", nil, nil)
}

func TestIdempotencyKeys(t *testing.T) { forEachDatabase(t, testIdempotencyKeys) }

func testIdempotencyKeys(t *testing.T, db func(*testing.T) persistence.Config) {
	h := start(t, server.Config{Database: db(t)})
	key := map[string]string{"Idempotency-Key": "3f1c9a52-0d7e-4c54-9a11-7d0b1e2f3a4b"}
	body := map[string]any{"serviceType": "Finance"}

	code, hdr, out := h.send("POST", "/api/tickets", "", body, key)
	require.Equal(t, 201, code, string(out))
	require.Empty(t, hdr.Get("Idempotent-Replayed"))
	var first created
	require.NoError(t, json.Unmarshal(out, &first))

	code, hdr, out = h.send("POST", "/api/tickets", "", body, key)
	require.Equal(t, 201, code, string(out))
	require.Equal(t, "true", hdr.Get("Idempotent-Replayed"))
	var again created
	require.NoError(t, json.Unmarshal(out, &again))
	require.Equal(t, first.Ticket.ID, again.Ticket.ID)
	require.NotNil(t, again.Ticket.Position, "a replayed waiting ticket has its position")
	require.Equal(t, 1, h.waiting("Finance"))

	// The same key for another request is refused; another caller's key
	// space is its own.
	code, _, out = h.send("POST", "/api/tickets", "", map[string]any{"serviceType": "Registrar"}, key)
	require.Equal(t, 422, code, string(out))
	code, _, out = h.send("POST", "/api/tickets", h.staff, body, key)
	require.Equal(t, 201, code, string(out))
	require.Equal(t, 2, h.waiting("Finance"))
	code, _, _ = h.send("POST", "/api/tickets", "", body, map[string]string{"Idempotency-Key": "has space"})
	require.Equal(t, 400, code)
	require.Equal(t, 2, h.waiting("Finance"))

	// Call-next: a retry gets the ticket the first call called, also after
	// that ticket was completed, and never calls the next one.
	c := h.openCounter("Counter 1")
	callKey := map[string]string{"Idempotency-Key": "call-7d0b1e2f"}
	path := "/api/counters/" + c.ID + "/call-next"
	var m1, m2, m3 moved
	code, _, out = h.send("POST", path, h.staff, nil, callKey)
	require.Equal(t, 200, code, string(out))
	require.NoError(t, json.Unmarshal(out, &m1))
	code, hdr, out = h.send("POST", path, h.staff, nil, callKey)
	require.Equal(t, 200, code, string(out))
	require.Equal(t, "true", hdr.Get("Idempotent-Replayed"))
	require.NoError(t, json.Unmarshal(out, &m2))
	require.Equal(t, m1.Ticket.ID, m2.Ticket.ID)
	require.Equal(t, 1, h.waiting("Finance"))

	h.expect(200, "POST", "/api/tickets/"+m1.Ticket.ID+"/complete", h.staff, nil, nil)
	code, _, out = h.send("POST", path, h.staff, nil, callKey)
	require.Equal(t, 200, code, string(out))
	require.NoError(t, json.Unmarshal(out, &m3))
	require.Equal(t, m1.Ticket.ID, m3.Ticket.ID)
	require.Equal(t, "completed", m3.Ticket.Status)
	require.Equal(t, 1, h.waiting("Finance"), "the retry called nobody")
	require.Nil(t, h.counters()["Counter 1"].CurrentTicketID)
}

// faultStore makes the next CreateTicket commit and then report that the
// outcome of its commit is unknown (the connection broke under COMMIT), and
// optionally makes the read that settles it fail too.
type faultStore struct {
	persistence.Store
	lose      atomic.Bool // the next create's answer is lost
	blindRead atomic.Bool // the next GetTicket fails
}

var errInjected = fmt.Errorf("injected: connection reset under COMMIT: %w", persistence.ErrOutcomeUnknown)

func (f *faultStore) CreateTicket(ctx context.Context, in persistence.NewTicket, by persistence.Stamp) (persistence.Ticket, error) {
	t, err := f.Store.CreateTicket(ctx, in, by)
	if err == nil && f.lose.CompareAndSwap(true, false) {
		return persistence.Ticket{}, errInjected
	}
	return t, err
}

func (f *faultStore) GetTicket(ctx context.Context, id string) (persistence.Ticket, error) {
	if f.blindRead.CompareAndSwap(true, false) {
		return persistence.Ticket{}, fmt.Errorf("injected: %w", persistence.ErrUnavailable)
	}
	return f.Store.GetTicket(ctx, id)
}

func TestCommittedCreateWhoseAnswerWasLost(t *testing.T) {
	forEachDatabase(t, testCommittedCreateWhoseAnswerWasLost)
}

func testCommittedCreateWhoseAnswerWasLost(t *testing.T, db func(*testing.T) persistence.Config) {
	st, err := persistence.Open(context.Background(), db(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.SeedDemo(context.Background())
	require.NoError(t, err)
	f := &faultStore{Store: st}
	h := start(t, server.Config{Store: f})

	// The actor reads the ticket back, finds it committed, and says so.
	f.lose.Store(true)
	c := h.create("Finance", "")
	require.Equal(t, "F001", c.Ticket.DisplayNumber)
	require.Equal(t, 1, h.waiting("Finance"))

	// When even that read fails, the answer is 503, and the committed
	// ticket still reaches the line (the actor reloads it) and is called.
	f.lose.Store(true)
	f.blindRead.Store(true)
	code, out := h.do("POST", "/api/tickets", "", map[string]any{"serviceType": "Finance"})
	require.Equal(t, 503, code, string(out))
	require.Eventually(t, func() bool { return h.waiting("Finance") == 2 }, 10*time.Second, 20*time.Millisecond)
	k := h.openCounter("Counter 1")
	var m moved
	h.expect(200, "POST", "/api/counters/"+k.ID+"/call-next", h.staff, nil, &m)
	require.Equal(t, "F001", m.Ticket.DisplayNumber)
	h.expect(200, "POST", "/api/tickets/"+m.Ticket.ID+"/complete", h.staff, nil, nil)
	h.expect(200, "POST", "/api/counters/"+k.ID+"/call-next", h.staff, nil, &m)
	require.Equal(t, "F002", m.Ticket.DisplayNumber)
}

// proxy is a TCP relay to PostgreSQL whose connections the test can cut,
// as a network failure or a restarted database would.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	refuse atomic.Bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.cut() })
	go p.accept()
	return p
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.refuse.Load() {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
	}
}

// cut closes every relayed connection: the store's connections see an
// unexpected EOF in the middle of whatever they were doing.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Dropped database connections answer 503, not 500: under a statement
// (unexpected EOF), and when the database refuses new connections.
func TestDroppedConnectionsAnswer503(t *testing.T) {
	db := postgresDB(t)
	u, err := url.Parse(db.DatabaseURL)
	require.NoError(t, err)
	p := newProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	h := start(t, server.Config{Database: persistence.Config{DatabaseURL: u.String(), MaxOpenConns: 4}, RequestTimeout: 6 * time.Second})
	h.create("Finance", "")

	// A create waits on the lock inside the database; its connection is
	// cut under it.
	release := lockTickets(t, db.DatabaseURL)
	done := h.createInBackground("Finance")
	waitForLockWaiter(t, db.DatabaseURL)
	p.cut()
	require.Equal(t, 503, <-done)
	release()

	p.refuse.Store(true)
	p.cut()
	code, out := h.do("POST", "/api/tickets", "", map[string]any{"serviceType": "Finance"})
	require.Equal(t, 503, code, string(out))
	h.expect(503, "GET", "/ready", "", nil, nil)

	// Back: a pooled connection that was cut while idle may fail one more
	// request (503 again, nothing done) before the pool replaces it.
	p.refuse.Store(false)
	var c created
	require.Eventually(t, func() bool {
		code, out := h.do("POST", "/api/tickets", "", map[string]any{"serviceType": "Finance"})
		require.Contains(t, []int{201, 503}, code, string(out))
		return code == 201 && json.Unmarshal(out, &c) == nil
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, "F002", c.Ticket.DisplayNumber, "no failed create took a number")
	require.Equal(t, 2, h.waiting("Finance"))
}

// waitForLockWaiter waits until some session waits on a lock in the
// database (the create under test).
func waitForLockWaiter(t *testing.T, dsn string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	require.Eventually(t, func() bool {
		var n int
		err := db.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&n)
		return err == nil && n > 0
	}, 5*time.Second, 10*time.Millisecond)
}
