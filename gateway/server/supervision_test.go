package server_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/actors/rooms"
	"github.com/queuecast/queuecast/gateway/server"
)

// A room that panics is restarted with its members: a socket that joined
// the Finance room before the failure still gets its broadcasts after it,
// over the real wire, without joining again.
func TestRestartedRoomStillReachesItsMembers(t *testing.T) {
	h := start(t, server.Config{Database: sqliteDB(t)})
	var evs []event
	guest := dial(t, h, "")
	guest.emit(&evs, "joinServiceQueue", map[string]any{"serviceType": "Finance"})

	restarted := make(chan struct{}, 4)
	sub := h.srv.System.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*actor.SupervisorEvent); ok && e.Directive == actor.RestartDirective {
			restarted <- struct{}{}
		}
	})
	defer h.srv.System.EventStream.Unsubscribe(sub)
	h.srv.System.Root.Send(h.srv.Rooms(), &rooms.Fail{Room: rooms.Service("Finance")})
	select {
	case <-restarted:
	case <-time.After(5 * time.Second):
		t.Fatal("the room's failure was not supervised")
	}

	h.create("Finance", "")
	guest.until(&evs, func(e event) bool { return e.Name == "ticketCreated" })
	require.Equal(t, 1, count(evs, "ticketCreated", "F001"))
}
