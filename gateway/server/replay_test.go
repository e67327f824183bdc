package server_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/server"
)

// A call-next whose answer was lost, retried with its Idempotency-Key after
// the counter's actor loaded its ticket from the database (here a restart;
// in a cluster, a new node taking the queue actors over), gets the ticket it
// called, replayed; a call with another key is refused as busy.
func TestCallNextReplayedAfterReload(t *testing.T) {
	db := sqliteDB(t)
	h := start(t, server.Config{Database: db})
	h.create("Finance", "")
	h.create("Finance", "")
	c := h.openCounter("Counter 1")
	path := "/api/counters/" + c.ID + "/call-next"
	key := map[string]string{"Idempotency-Key": "call-before-restart"}
	code, _, out := h.send("POST", path, h.staff, nil, key)
	require.Equal(t, 200, code, string(out))
	var first moved
	require.NoError(t, json.Unmarshal(out, &first))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.srv.Shutdown(ctx))

	h = start(t, server.Config{Database: db})
	code, hdr, out := h.send("POST", path, h.staff, nil, key)
	require.Equal(t, 200, code, string(out))
	require.Equal(t, "true", hdr.Get("Idempotent-Replayed"))
	var again moved
	require.NoError(t, json.Unmarshal(out, &again))
	require.Equal(t, first.Ticket.ID, again.Ticket.ID)
	require.Equal(t, 1, h.waiting("Finance"), "the retry called nobody")

	code, _, out = h.send("POST", path, h.staff, nil, map[string]string{"Idempotency-Key": "another-call"})
	require.Equal(t, 409, code, string(out))
	require.Equal(t, 1, h.waiting("Finance"))
}
