package server_test

import (
	"encoding/json"
	"github.com/queuecast/queuecast/persistence"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/gateway/server"
)

func TestLifecycleOverHTTP(t *testing.T) { forEachDatabase(t, testLifecycleOverHTTP) }

func testLifecycleOverHTTP(t *testing.T, db func(*testing.T) persistence.Config) {
	h := start(t, server.Config{Database: db(t)})
	admin, staff := h.admin, h.staff
	h.expect(200, "GET", "/ready", "", nil, nil)

	var services struct {
		Items []struct{ Name, Prefix string }
		Total int
	}
	h.expect(200, "GET", "/api/services", "", nil, &services)
	require.Equal(t, 3, services.Total)
	cs := h.counters()
	require.Len(t, cs, 3)
	c1, c2 := cs["Counter 1"].ID, cs["Counter 2"].ID

	// Creation and its input rules.
	first := h.create("Finance", "")
	require.Equal(t, "F001", first.Ticket.DisplayNumber)
	require.Equal(t, "waiting", first.Ticket.Status)
	require.NotNil(t, first.Ticket.Position)
	require.NotEmpty(t, first.Token)
	owner := first.Token
	for _, tc := range []struct {
		name, token string
		body        any
		status      int
		msg         string
	}{
		{"userId without token", "", map[string]any{"serviceType": "Finance", "userId": "u1"}, 403, "token"},
		{"missing serviceType", "", map[string]any{}, 400, "serviceType"},
		{"unknown service", "", map[string]any{"serviceType": "Nope"}, 404, "serviceType"},
		{"unknown field", "", map[string]any{"serviceType": "Finance", "x": 1}, 400, "x"},
		{"wrong type", "", map[string]any{"serviceType": 7}, 400, "serviceType"},
		{"bad priority", admin, map[string]any{"serviceType": "Finance", "priority": "gold"}, 400, "priority"},
		{"customer priority", owner, map[string]any{"serviceType": "Finance", "priority": "vip"}, 403, "priority"},
		{"malformed", "", "{", 400, "JSON"},
		{"bad token", "nope", map[string]any{"serviceType": "Finance"}, 401, "token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := h.do("POST", "/api/tickets", tc.token, tc.body)
			require.Equal(t, tc.status, code, string(out))
			var e struct{ Error string }
			require.NoError(t, json.Unmarshal(out, &e))
			require.Contains(t, e.Error, tc.msg)
		})
	}

	// Reading a ticket: the owner and staff, nobody else.
	var got ticket
	h.expect(200, "GET", "/api/tickets/"+first.Ticket.ID, owner, nil, &got)
	require.Equal(t, 1, *got.Position)
	require.NotNil(t, got.EstimatedWaitSeconds)
	stranger := h.token(auth.Identity{UserID: "someone", Role: auth.RoleCustomer})
	h.expect(403, "GET", "/api/tickets/"+first.Ticket.ID, stranger, nil, nil)
	h.expect(401, "GET", "/api/tickets/"+first.Ticket.ID, "", nil, nil)
	h.expect(404, "GET", "/api/tickets/nope", staff, nil, nil)
	h.expect(403, "GET", "/api/tickets", owner, nil, nil)
	var page struct {
		Items []ticket
		Total int
	}
	h.expect(200, "GET", "/api/tickets?status=waiting&serviceType=Finance", staff, nil, &page)
	require.Equal(t, 1, page.Total)
	h.expect(400, "GET", "/api/tickets?status=bogus", staff, nil, nil)

	// Moves of a serving ticket are illegal while it waits.
	for _, mv := range []string{"complete", "no-show", "recall"} {
		h.expect(409, "POST", "/api/tickets/"+first.Ticket.ID+"/"+mv, staff, nil, nil)
	}
	h.expect(409, "POST", "/api/tickets/"+first.Ticket.ID+"/transfer", staff, map[string]any{"serviceType": "Registrar"}, nil)
	h.expect(403, "POST", "/api/tickets/"+first.Ticket.ID+"/complete", owner, nil, nil)

	// Call, recall, transfer, call elsewhere, no-show.
	h.expect(403, "POST", "/api/counters/"+c1+"/call-next", owner, nil, nil)
	h.expect(404, "POST", "/api/counters/nope/call-next", staff, nil, nil)
	var call moved
	h.expect(200, "POST", "/api/counters/"+c1+"/call-next", staff, nil, &call)
	require.Equal(t, first.Ticket.ID, call.Ticket.ID)
	require.Equal(t, "serving", call.Ticket.Status)
	require.Equal(t, first.Ticket.ID, *call.Counter.CurrentTicketID)
	h.expect(409, "POST", "/api/counters/"+c1+"/call-next", staff, nil, nil) // already serving
	h.expect(409, "PATCH", "/api/counters/"+c1, staff, map[string]any{"status": "closed"}, nil)
	h.expect(409, "POST", "/api/tickets/"+first.Ticket.ID+"/cancel", staff, nil, nil)
	var mv moved
	h.expect(200, "POST", "/api/tickets/"+first.Ticket.ID+"/recall", staff, nil, &mv)
	require.Equal(t, 1, mv.Ticket.RecallCount)
	h.expect(400, "POST", "/api/tickets/"+first.Ticket.ID+"/transfer", staff, map[string]any{}, nil)
	h.expect(404, "POST", "/api/tickets/"+first.Ticket.ID+"/transfer", staff, map[string]any{"serviceType": "Nope"}, nil)
	h.expect(200, "POST", "/api/tickets/"+first.Ticket.ID+"/transfer", staff, map[string]any{"serviceType": "Admissions"}, &mv)
	require.Equal(t, "waiting", mv.Ticket.Status)
	require.Equal(t, "Admissions", mv.Ticket.ServiceType)
	require.Equal(t, "F001", mv.Ticket.DisplayNumber)
	h.expect(404, "POST", "/api/counters/"+c1+"/call-next", staff, nil, nil) // Counter 1 does not serve Admissions
	h.expect(200, "POST", "/api/counters/"+c2+"/call-next", staff, nil, &call)
	require.Equal(t, first.Ticket.ID, call.Ticket.ID)
	h.expect(200, "POST", "/api/tickets/"+first.Ticket.ID+"/no-show", staff, nil, &mv)
	require.Equal(t, "no_show", mv.Ticket.Status)
	for _, m := range []string{"complete", "no-show", "recall", "cancel"} {
		h.expect(409, "POST", "/api/tickets/"+first.Ticket.ID+"/"+m, staff, nil, nil)
	}
	h.expect(404, "POST", "/api/counters/"+c2+"/call-next", staff, nil, nil) // nothing waiting

	// Counter status: paused calls nothing, bad input is 400.
	var k counter
	h.expect(400, "PATCH", "/api/counters/"+c2, staff, map[string]any{"status": "asleep"}, nil)
	h.expect(403, "PATCH", "/api/counters/"+c2, owner, map[string]any{"status": "paused"}, nil)
	h.expect(200, "PATCH", "/api/counters/"+c2, staff, map[string]any{"status": "paused"}, &k)
	require.Equal(t, "paused", k.Status)
	h.create("Admissions", "")
	h.expect(409, "POST", "/api/counters/"+c2+"/call-next", staff, nil, nil)
	h.expect(200, "PATCH", "/api/counters/"+c2, admin, map[string]any{"status": "open"}, nil)

	// Complete.
	second := h.create("Registrar", owner)
	require.Equal(t, "R001", second.Ticket.DisplayNumber)
	h.expect(200, "POST", "/api/counters/"+c1+"/call-next", staff, nil, &call)
	require.Equal(t, second.Ticket.ID, call.Ticket.ID)
	h.expect(200, "POST", "/api/tickets/"+second.Ticket.ID+"/complete", admin, nil, &mv)
	require.Equal(t, "completed", mv.Ticket.Status)
	h.expect(409, "POST", "/api/tickets/"+second.Ticket.ID+"/complete", admin, nil, nil)
	h.expect(200, "PATCH", "/api/counters/"+c1, staff, map[string]any{"status": "closed"}, &k)
	require.Nil(t, k.CurrentTicketID)

	// Cancel by the owner; the cap on active tickets.
	third := h.create("Finance", owner)
	require.Equal(t, "F002", third.Ticket.DisplayNumber)
	h.expect(403, "POST", "/api/tickets/"+third.Ticket.ID+"/cancel", stranger, nil, nil)
	h.expect(200, "POST", "/api/tickets/"+third.Ticket.ID+"/cancel", owner, nil, &mv)
	require.Equal(t, "cancelled", mv.Ticket.Status)
	h.expect(409, "POST", "/api/tickets/"+third.Ticket.ID+"/cancel", owner, nil, nil)
	for range 3 {
		h.create("Finance", owner)
	}
	h.expect(429, "POST", "/api/tickets", owner, map[string]any{"serviceType": "Finance"}, nil)

	// Services, counters and users (admin).
	svc := map[string]any{"name": "Housing", "prefix": "h"}
	h.expect(403, "POST", "/api/services", staff, svc, nil)
	h.expect(401, "POST", "/api/services", "", svc, nil)
	h.expect(400, "POST", "/api/services", admin, map[string]any{"name": "X", "prefix": "TOOLONG"}, nil)
	h.expect(201, "POST", "/api/services", admin, svc, nil)
	h.expect(409, "POST", "/api/services", admin, svc, nil)
	h.expect(400, "POST", "/api/counters", admin, map[string]any{"name": "H1", "services": []string{}}, nil)
	h.expect(400, "POST", "/api/counters", admin, map[string]any{"name": "H1", "services": []string{"Nope"}}, nil)
	h.expect(201, "POST", "/api/counters", admin, map[string]any{"name": "H1", "services": []string{"Housing"}, "status": "open"}, &k)
	require.Equal(t, "H001", h.create("Housing", "").Ticket.DisplayNumber)
	h.expect(200, "POST", "/api/counters/"+k.ID+"/call-next", staff, nil, &call)
	require.Equal(t, "H001", call.Ticket.DisplayNumber)

	h.expect(403, "POST", "/api/users", staff, map[string]any{"username": "ann", "password": "secret-pass"}, nil)
	h.expect(400, "POST", "/api/users", admin, map[string]any{"username": "ann", "password": "short"}, nil)
	h.expect(201, "POST", "/api/users", admin, map[string]any{"username": "ann", "password": "secret-pass", "counterId": c1}, nil)
	h.expect(409, "POST", "/api/users", admin, map[string]any{"username": "ann", "password": "secret-pass"}, nil)
	h.expect(401, "POST", "/api/auth/login", "", map[string]any{"username": "ann", "password": "wrong-pass"}, nil)
	h.expect(401, "POST", "/api/auth/login", "", map[string]any{"username": "bob", "password": "wrong-pass"}, nil)
	h.expect(400, "POST", "/api/auth/login", "", map[string]any{"username": "ann"}, nil)
	var login struct {
		Token string
		User  struct{ ID, Username, Role string }
	}
	h.expect(200, "POST", "/api/auth/login", "", map[string]any{"username": "ann", "password": "secret-pass"}, &login)
	require.Equal(t, "staff", login.User.Role)
	id, err := h.auth.Verify(login.Token)
	require.NoError(t, err)
	require.Equal(t, c1, id.CounterID)
	h.expect(200, "GET", "/api/tickets", login.Token, nil, nil)

	var queues struct {
		Items []struct {
			ServiceType          string
			Waiting              int
			EstimatedWaitSeconds *int
		}
	}
	h.expect(200, "GET", "/api/queues", "", nil, &queues)
	require.Len(t, queues.Items, 4)
	var doc struct {
		OpenAPI string
		Paths   map[string]any
	}
	h.expect(200, "GET", "/api/openapi.json", "", nil, &doc)
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	require.Contains(t, doc.Paths, "/api/counters/{id}/call-next")
}
