package clients

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
)

// TestDirectoryKeepsItsRecordsAcrossARestart makes the directory panic: the
// root guardian restarts it, and it still lists the sockets put before.
func TestDirectoryKeepsItsRecordsAcrossARestart(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	dir := sys.Root.Spawn(NewDirectoryProps(quiet))
	sys.Root.Send(dir, &Put{Record: Record{SocketID: "b", ClientID: 2}})
	sys.Root.Send(dir, &Put{Record: Record{SocketID: "a", ClientID: 1}})

	restarted := make(chan struct{}, 1)
	sub := sys.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*actor.SupervisorEvent); ok && e.Directive == actor.RestartDirective {
			restarted <- struct{}{}
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	sys.Root.Send(dir, &Fail{})
	select {
	case <-restarted:
	case <-time.After(2 * time.Second):
		t.Fatal("the failure was not supervised")
	}

	reply := make(chan []Record, 1)
	sys.Root.Send(dir, &List{Reply: reply})
	got := <-reply
	require.Len(t, got, 2)
	require.Equal(t, "a", got[0].SocketID)
	require.Equal(t, "b", got[1].SocketID)
}
