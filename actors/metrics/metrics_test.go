package metrics

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/actors/rooms"
)

// TestBroadcasterIsRestartedAfterAFailure makes the broadcaster panic and
// checks that the supervisor restarts it and the schedule goes on.
func TestBroadcasterIsRestartedAfterAFailure(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	published := make(chan *rooms.Publish, 64)
	fakeRooms := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if p, ok := ctx.Message().(*rooms.Publish); ok {
			published <- p
		}
	}))
	var n atomic.Int64
	var latest Latest
	sup := sys.Root.Spawn(NewSupervisorProps(Config{
		Interval: 20 * time.Millisecond,
		Collect:  func() any { return map[string]int64{"n": n.Add(1)} },
		Rooms:    fakeRooms,
		Room:     "dashboard",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, &latest))

	p := <-published
	require.Equal(t, []string{"dashboard"}, p.Rooms)
	require.Equal(t, "loadBalancingMetrics", p.Broadcast.Event)

	failures := make(chan *actor.SupervisorEvent, 4)
	sub := sys.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*actor.SupervisorEvent); ok {
			failures <- e
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	sys.Root.Send(sup, &Fail{})
	select {
	case e := <-failures:
		require.Equal(t, actor.RestartDirective, e.Directive)
	case <-time.After(2 * time.Second):
		t.Fatal("the failure was not supervised")
	}
	before := n.Load()
	require.Eventually(t, func() bool { return n.Load() >= before+3 }, 2*time.Second, 5*time.Millisecond,
		"snapshots go on after the restart")
	require.NotNil(t, latest.Load())
	sys.Root.Stop(sup)
}
