package metrics

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

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

// TestSupervisorRestartsLeaveNoSchedule restarts the supervisor itself
// (under the root guardian's default strategy) several times: each
// incarnation starts a schedule for its new broadcaster, and none of the
// earlier ones may survive it, as a goroutine or otherwise.
func TestSupervisorRestartsLeaveNoSchedule(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	published := make(chan struct{}, 1)
	fakeRooms := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*rooms.Publish); ok {
			select {
			case published <- struct{}{}:
			default:
			}
		}
	}))
	// Every goroutine there is before the supervisor: the schedule's is
	// the supervisor's own, and must be gone once the last incarnation
	// stops, whatever the restarts before it did.
	before := goleak.IgnoreCurrent()
	var latest Latest
	sup := sys.Root.Spawn(NewSupervisorProps(Config{
		Interval: 10 * time.Millisecond,
		Collect:  func() any { return 1 },
		Rooms:    fakeRooms,
		Room:     "dashboard",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, &latest))
	<-published

	restarts := make(chan struct{}, 16)
	sub := sys.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*actor.SupervisorEvent); ok && e.Child.Equal(sup) {
			restarts <- struct{}{}
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	const n = 5
	for range n {
		sys.Root.Send(sup, &FailSupervisor{})
		select {
		case <-restarts:
		case <-time.After(2 * time.Second):
			t.Fatal("the supervisor's failure was not supervised")
		}
		<-published // drained: wait for a publish of the new incarnation
		<-published
	}
	require.NoError(t, sys.Root.PoisonFuture(sup).Wait())
	require.NoError(t, goleak.Find(before), "goroutines left by %d restarts", n)
}

// failures subscribes to the system's supervision events.
func failures(t *testing.T, sys *actor.ActorSystem) <-chan *actor.SupervisorEvent {
	ch := make(chan *actor.SupervisorEvent, 16)
	sub := sys.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*actor.SupervisorEvent); ok {
			select {
			case ch <- e:
			default:
			}
		}
	})
	t.Cleanup(func() { sys.EventStream.Unsubscribe(sub) })
	return ch
}

// TestBroadcasterDoesNotWaitOnCollect holds Collect (as a slow database or a
// busy room manager would): the broadcaster still handles its messages
// meanwhile, and ticks do not pile up snapshots.
func TestBroadcasterDoesNotWaitOnCollect(t *testing.T) {
	sys := quiet()
	release := make(chan struct{})
	var calls atomic.Int64
	sup := sys.Root.Spawn(NewSupervisorProps(Config{
		Interval: 5 * time.Millisecond,
		Collect:  func() any { calls.Add(1); <-release; return 1 },
		Rooms:    sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {})),
		Room:     "dashboard",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, &Latest{}))
	defer sys.Root.Stop(sup)
	require.Eventually(t, func() bool { return calls.Load() == 1 }, time.Second, time.Millisecond)
	events := failures(t, sys)
	sys.Root.Send(sup, &Fail{})
	select {
	case <-events: // the broadcaster took the message while Collect was held
	case <-time.After(2 * time.Second):
		t.Fatal("the broadcaster is stuck behind Collect")
	}
	close(release)
}

// TestCollectPanicFailsTheBroadcaster: a panic inside Collect is supervised
// like any failure of the broadcaster, and snapshots go on.
func TestCollectPanicFailsTheBroadcaster(t *testing.T) {
	sys := quiet()
	var n atomic.Int64
	var latest Latest
	events := failures(t, sys)
	sup := sys.Root.Spawn(NewSupervisorProps(Config{
		Interval: 10 * time.Millisecond,
		Collect: func() any {
			if n.Add(1) == 2 {
				panic("collect failed")
			}
			return n.Load()
		},
		Rooms:  sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {})),
		Room:   "dashboard",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, &latest))
	defer sys.Root.Stop(sup)
	select {
	case e := <-events:
		require.Equal(t, actor.RestartDirective, e.Directive)
	case <-time.After(2 * time.Second):
		t.Fatal("the panic in Collect was not supervised")
	}
	require.Eventually(t, func() bool { v, _ := latest.Load().(int64); return v >= 4 }, 2*time.Second, 5*time.Millisecond)
}

func quiet() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
}
