package server_test

import (
	"encoding/json"
	"github.com/queuecast/queuecast/persistence"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/actors/queue"
	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/gateway/server"
)

// sioClient is a minimal Socket.IO client over a raw WebSocket: enough to
// connect with a token, emit with an ack and collect events.
type sioClient struct {
	t      *testing.T
	conn   *websocket.Conn
	frames chan string
	ackID  int
	err    error      // why the connection ended, once frames is closed
	wmu    sync.Mutex // the reader's pongs and send both write
}

func dial(t *testing.T, h *harness, token string) *sioClient {
	t.Helper()
	return dialWith(t, h, websocket.DefaultDialer, token)
}

// dialWith connects through d (e.g. from another local address).
func dialWith(t *testing.T, h *harness, d *websocket.Dialer, token string) *sioClient {
	t.Helper()
	u := "ws" + strings.TrimPrefix(h.base, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := d.Dial(u, nil)
	require.NoError(t, err)
	c := &sioClient{t: t, conn: conn, frames: make(chan string, 256)}
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		defer close(c.frames)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				c.err = err
				return
			}
			s := string(b)
			if s == "2" {
				c.wmu.Lock()
				_ = conn.WriteMessage(websocket.TextMessage, []byte("3"))
				c.wmu.Unlock()
				continue
			}
			c.frames <- s
		}
	}()
	require.True(t, strings.HasPrefix(c.next(), "0{"), "engine.io open")
	auth := "{}"
	if token != "" {
		auth = `{"token":"` + token + `"}`
	}
	c.send("40" + auth)
	require.True(t, strings.HasPrefix(c.next(), "40"), "socket.io connect")
	return c
}

func (c *sioClient) send(s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	require.NoError(c.t, c.conn.WriteMessage(websocket.TextMessage, []byte(s)))
}

func (c *sioClient) next() string {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		require.True(c.t, ok, "connection closed")
		return f
	case <-time.After(5 * time.Second):
		c.t.Fatal("no frame in 5s")
		return ""
	}
}

// emit sends an event with an ack and waits for a successful ack; events
// seen meanwhile are kept in events.
func (c *sioClient) emit(events *[]event, name string, data any) {
	c.t.Helper()
	c.ackID++
	raw, _ := json.Marshal([]any{name, data})
	id := itoa(c.ackID)
	c.send("42" + id + string(raw))
	for {
		f := c.next()
		if strings.HasPrefix(f, "43"+id+"[") {
			require.Contains(c.t, f, `"success":true`, f)
			return
		}
		*events = append(*events, parseEvent(c.t, f))
	}
}

// until collects events until one named stop arrives.
func (c *sioClient) until(events *[]event, stop func(event) bool) {
	c.t.Helper()
	for {
		e := parseEvent(c.t, c.next())
		*events = append(*events, e)
		if stop(e) {
			return
		}
	}
}

type event struct {
	Name string
	Data map[string]any
}

func parseEvent(t *testing.T, f string) event {
	t.Helper()
	require.True(t, strings.HasPrefix(f, "42["), "want an event, got %q", f)
	var parts []json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(f[2:]), &parts))
	var e event
	require.NoError(t, json.Unmarshal(parts[0], &e.Name))
	if len(parts) > 1 {
		_ = json.Unmarshal(parts[1], &e.Data)
	}
	return e
}

func count(events []event, name, display string) int {
	n := 0
	for _, e := range events {
		if e.Name != name {
			continue
		}
		if display != "" {
			tk, _ := e.Data["ticket"].(map[string]any)
			if tk["displayNumber"] != display {
				continue
			}
		}
		n++
	}
	return n
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// Live events reach the right rooms, once per socket even when it is in
// several of them.
func TestLiveEventsInRooms(t *testing.T) { forEachDatabase(t, testLiveEventsInRooms) }

func testLiveEventsInRooms(t *testing.T, db func(*testing.T) persistence.Config) {
	h := start(t, server.Config{Database: db(t)})
	c1 := h.counters()["Counter 1"].ID

	var staffEv, guestEv, ownerEv []event
	staff := dial(t, h, h.staff)
	staff.emit(&staffEv, "joinDashboard", map[string]any{"userRole": "staff", "userId": "staff-1"})
	staff.emit(&staffEv, "joinServiceQueue", map[string]any{"serviceType": "Finance"})
	staff.emit(&staffEv, "joinCounter", map[string]any{"counterId": c1})
	guest := dial(t, h, "")
	guest.emit(&guestEv, "joinServiceQueue", map[string]any{"serviceType": "Finance"})

	// The catalog is the database: unknown services and counters are refused.
	guest.send(`4299["joinServiceQueue",{"serviceType":"Nope"}]`)
	require.Contains(t, guest.next(), `"success":false`)
	staff.send(`4299["joinCounter",{"counterId":"nope"}]`)
	for {
		f := staff.next()
		if strings.HasPrefix(f, "4399") {
			require.Contains(t, f, `"success":false`)
			break
		}
		staffEv = append(staffEv, parseEvent(t, f))
	}

	tk := h.create("Finance", "")
	owner := dial(t, h, tk.Token)
	owner.emit(&ownerEv, "joinUserRoom", map[string]any{"userId": *tk.Ticket.UserID})

	var call moved
	h.expect(200, "POST", "/api/counters/"+c1+"/call-next", h.staff, nil, &call)
	h.expect(200, "PATCH", "/api/counters/"+c1, h.staff, map[string]any{"status": "paused"}, nil)
	h.expect(200, "POST", "/api/tickets/"+tk.Ticket.ID+"/complete", h.staff, nil, nil)
	// A Registrar ticket marks the end: the dashboard sees it after the
	// Finance events, which came from earlier publishes.
	h.create("Registrar", "")

	isR001 := func(e event) bool {
		t, _ := e.Data["ticket"].(map[string]any)
		return e.Name == "ticketCreated" && t["displayNumber"] == "R001"
	}
	staff.until(&staffEv, isR001)
	require.Equal(t, 1, count(staffEv, "ticketCreated", "F001"))
	require.Equal(t, 1, count(staffEv, "ticketServing", "F001"))
	require.Equal(t, 1, count(staffEv, "ticketCompleted", "F001"))
	require.Equal(t, 1, count(staffEv, "counterStatusChange", ""))
	for _, e := range staffEv {
		if e.Name == "counterStatusChange" {
			require.Equal(t, "open", e.Data["previousStatus"])
			require.Equal(t, "paused", e.Data["counter"].(map[string]any)["status"])
		}
		if e.Name == "ticketServing" {
			require.Equal(t, c1, e.Data["counter"].(map[string]any)["id"])
			require.NotEmpty(t, e.Data["timestamp"])
		}
	}
	require.Positive(t, count(staffEv, "queueUpdated", ""))

	guest.until(&guestEv, func(e event) bool { return e.Name == "ticketCompleted" })
	require.Equal(t, 1, count(guestEv, "ticketCreated", "F001"))
	require.Equal(t, 1, count(guestEv, "ticketServing", "F001"))
	require.Zero(t, count(guestEv, "counterStatusChange", ""))
	var last map[string]any
	for _, e := range guestEv {
		if e.Name == "queueUpdated" {
			last = e.Data
		}
	}
	require.Equal(t, "Finance", last["serviceType"])
	require.EqualValues(t, 0, last["waiting"])

	owner.until(&ownerEv, func(e event) bool { return e.Name == "ticketCompleted" })
	require.Equal(t, 1, count(ownerEv, "ticketServing", "F001"))
	require.Zero(t, count(ownerEv, "queueUpdated", ""))
}

// The other ticket moves reach the ticket's service room (both of them for a
// transfer), the dashboard and the owner's room, once per socket, and
// nobody else.
func TestLiveTicketMovesInRooms(t *testing.T) { forEachDatabase(t, testLiveTicketMovesInRooms) }

func testLiveTicketMovesInRooms(t *testing.T, db func(*testing.T) persistence.Config) {
	var now atomic.Pointer[time.Time]
	set := func(v time.Time) { now.Store(&v) }
	set(time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC))
	h := start(t, server.Config{Database: db(t), Queue: queue.Config{Clock: func() time.Time { return *now.Load() }}})
	c1 := h.counters()["Counter 1"].ID // Finance and Registrar
	owner := h.token(auth.Identity{UserID: "cust-1", Role: auth.RoleCustomer})
	stranger := h.token(auth.Identity{UserID: "cust-2", Role: auth.RoleCustomer})

	type member struct {
		name  string
		c     *sioClient
		rooms []string
		ev    []event
	}
	join := func(name, token string, joins ...[2]any) *member {
		m := &member{name: name, c: dial(t, h, token)}
		for _, j := range joins {
			m.c.emit(&m.ev, j[0].(string), j[1])
			switch j[0] {
			case "joinDashboard":
				m.rooms = append(m.rooms, "dashboard")
			case "joinServiceQueue":
				m.rooms = append(m.rooms, "service-"+j[1].(map[string]any)["serviceType"].(string))
			case "joinCounter":
				m.rooms = append(m.rooms, "counter-"+c1)
			case "joinUserRoom":
				m.rooms = append(m.rooms, "user-"+j[1].(map[string]any)["userId"].(string))
			}
		}
		return m
	}
	svc := func(s string) [2]any { return [2]any{"joinServiceQueue", map[string]any{"serviceType": s}} }
	dash := join("dashboard+finance", h.staff, [2]any{"joinDashboard", map[string]any{"userRole": "staff", "userId": "staff-1"}}, svc("Finance"))
	fin := join("finance", "", svc("Finance"))
	reg := join("registrar", "", svc("Registrar"))
	adm := join("admissions", "", svc("Admissions"))
	ctr := join("counter", h.staff, [2]any{"joinCounter", map[string]any{"counterId": c1}})
	own := join("owner", owner, [2]any{"joinUserRoom", map[string]any{"userId": "cust-1"}})
	other := join("stranger", stranger, [2]any{"joinUserRoom", map[string]any{"userId": "cust-2"}})
	members := []*member{dash, fin, reg, adm, ctr, own, other}

	// F001: called, recalled, no-show.
	a := h.create("Finance", owner)
	h.expect(200, "POST", "/api/counters/"+c1+"/call-next", h.staff, nil, nil)
	h.expect(200, "POST", "/api/tickets/"+a.Ticket.ID+"/recall", h.staff, nil, nil)
	h.expect(200, "POST", "/api/tickets/"+a.Ticket.ID+"/no-show", h.staff, nil, nil)
	// F002: called, transferred to Registrar (where it waits on).
	b := h.create("Finance", owner)
	h.expect(200, "POST", "/api/counters/"+c1+"/call-next", h.staff, nil, nil)
	h.expect(200, "POST", "/api/tickets/"+b.Ticket.ID+"/transfer", h.staff, map[string]any{"serviceType": "Registrar"}, nil)
	// F003: cancelled by its owner.
	c := h.create("Finance", owner)
	h.expect(200, "POST", "/api/tickets/"+c.Ticket.ID+"/cancel", owner, nil, nil)
	// F004 (Finance) and F002 (now Registrar) expire at midnight in Nairobi.
	h.create("Finance", owner)
	set(time.Date(2026, 3, 10, 21, 0, 1, 0, time.UTC))
	h.srv.Queues.CheckDay()

	type want struct{ event, display string }
	moves := map[want][]*member{
		{"ticketRecalled", "F001"}:    {dash, fin, own},
		{"ticketNoShow", "F001"}:      {dash, fin, own},
		{"ticketTransferred", "F002"}: {dash, fin, reg, own},
		{"ticketCancelled", "F003"}:   {dash, fin, own},
		{"ticketExpired", "F004"}:     {dash, fin, own},
		{"ticketExpired", "F002"}:     {dash, reg, own},
	}
	// The owner's room is the last hop of every ticket event, so once the
	// owner has them all, every publish has passed every room it names.
	own.c.until(&own.ev, func(event) bool {
		for w := range moves {
			if count(own.ev, w.event, w.display) == 0 {
				return false
			}
		}
		return true
	})
	// A marker published to each room a socket is in comes after anything
	// queued for it in that room.
	for _, m := range members {
		for _, room := range m.rooms {
			h.expect(202, "POST", "/api/admin/broadcast", h.admin, map[string]any{"event": "marker", "data": map[string]any{"room": room}, "room": room}, nil)
		}
	}
	for _, m := range members {
		m.c.until(&m.ev, func(event) bool { return count(m.ev, "marker", "") == len(m.rooms) })
		for w, to := range moves {
			expected := 0
			for _, r := range to {
				if r == m {
					expected = 1
				}
			}
			require.Equal(t, expected, count(m.ev, w.event, w.display), "%s: %s %s", m.name, w.event, w.display)
		}
	}
	for _, e := range dash.ev {
		if e.Name == "ticketTransferred" {
			tk := e.Data["ticket"].(map[string]any)
			require.Equal(t, "Registrar", tk["serviceType"])
			require.Equal(t, "waiting", tk["status"])
			require.Equal(t, c1, e.Data["counter"].(map[string]any)["id"])
		}
		if e.Name == "ticketRecalled" {
			require.EqualValues(t, 1, e.Data["ticket"].(map[string]any)["recallCount"])
		}
	}
}
