// Package metrics runs the loadBalancingMetrics broadcaster under a
// supervisor.
//
// The supervisor actor spawns one broadcaster child with a OneForOne
// strategy: a broadcaster that panics is restarted (at most 10 times a
// minute, then stopped) and keeps its schedule; only the last snapshot it
// took is lost, and the next tick takes a new one. The broadcaster collects a
// snapshot every Interval, keeps it for the admin API and publishes it to the
// dashboard room. Collect asks other actors and the database, so it runs
// off the actor, in a goroutine of its own, and its snapshot comes back as a
// message: the broadcaster never waits on another actor, and a tick that
// comes while a snapshot is still being taken is skipped. A panic in
// Collect comes back as a message too and fails the broadcaster, which the
// supervisor restarts.
//
// The schedule is a ticker goroutine owned by the
// supervisor: started in Started, cancelled in Stopping and in Restarting,
// so a supervisor restarted by its own parent starts one new schedule for
// its new child and leaves no timer behind.
package metrics

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/actors/rooms"
)

// Config wires the broadcaster.
type Config struct {
	// Interval between snapshots. Zero means 10s.
	Interval time.Duration
	// Collect takes a snapshot; it runs in a goroutine of the
	// broadcaster's, one at a time.
	Collect func() any
	// Rooms is the room manager; Room is where the event goes (dashboard).
	Rooms *actor.PID
	Room  string
	// Event is the event name. Empty means "loadBalancingMetrics".
	Event  string
	Logger *slog.Logger
	// Publish says whether this node sends the snapshot to Room (in a
	// cluster only one node does); nil means always. The snapshot is kept
	// for Latest either way.
	Publish func() bool
}

// Latest holds the last snapshot taken; it is safe for concurrent use.
type Latest struct{ v atomic.Value }

// Load returns the last snapshot, or nil before the first.
func (l *Latest) Load() any { return l.v.Load() }

// tick asks the broadcaster for a snapshot. Fail makes the broadcaster
// panic, and FailSupervisor the supervisor itself (for tests of
// supervision).
type (
	tick           struct{}
	Fail           struct{}
	FailSupervisor struct{}
)

// NewSupervisorProps returns the props of the supervisor; latest receives
// every snapshot.
func NewSupervisorProps(cfg Config, latest *Latest) *actor.Props {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Event == "" {
		cfg.Event = "loadBalancingMetrics"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	strategy := actor.NewOneForOneStrategy(10, time.Minute, func(reason any) actor.Directive {
		cfg.Logger.Error("metrics broadcaster failed; restarting", slog.Any("reason", reason))
		return actor.RestartDirective
	})
	return actor.PropsFromProducer(func() actor.Actor { return &supervisor{cfg: cfg, latest: latest} },
		actor.WithSupervisor(strategy))
}

type supervisor struct {
	cfg    Config
	latest *Latest
	child  *actor.PID
	cancel func()
}

func (s *supervisor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.start(ctx)
	case *actor.Stopping, *actor.Restarting:
		s.stopSchedule()
	case *actor.Stopped, *actor.Terminated:
	case *Fail:
		ctx.Forward(s.child)
	case *FailSupervisor:
		panic("metrics supervisor: failure requested")
	default:
		s.cfg.Logger.Warn("metrics supervisor: unknown message", slog.String("type", fmt.Sprintf("%T", m)))
	}
}

// start spawns the broadcaster and ticks it every Interval. The child's PID
// survives the child's restarts, so the schedule does too.
func (s *supervisor) start(ctx actor.Context) {
	s.child = ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return &broadcaster{cfg: s.cfg, latest: s.latest} }))
	s.cancel = every(ctx.ActorSystem(), s.cfg.Interval, s.child, &tick{})
}

func (s *supervisor) stopSchedule() {
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
}

type broadcaster struct {
	cfg        Config
	latest     *Latest
	collecting bool
}

// collected carries a snapshot back to the broadcaster; collectFailed a
// panic of Collect, with its stack.
type (
	collected     struct{ snap any }
	collectFailed struct {
		reason any
		stack  []byte
	}
)

func (b *broadcaster) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
	case *tick:
		b.collect(ctx)
	case *collected:
		b.collecting = false
		b.broadcast(ctx, m.snap)
	case *collectFailed:
		b.collecting = false
		panic(fmt.Sprintf("metrics: collect: %v\n%s", m.reason, m.stack))
	case *Fail:
		panic("metrics broadcaster: failure requested")
	default:
		b.cfg.Logger.Warn("metrics broadcaster: unknown message", slog.String("type", fmt.Sprintf("%T", m)))
	}
}

// collect takes a snapshot off the actor unless one is being taken.
func (b *broadcaster) collect(ctx actor.Context) {
	if b.collecting {
		return
	}
	b.collecting = true
	sys, self, fn := ctx.ActorSystem(), ctx.Self(), b.cfg.Collect
	go func() {
		defer func() {
			if r := recover(); r != nil {
				sys.Root.Send(self, &collectFailed{reason: r, stack: debug.Stack()})
			}
		}()
		sys.Root.Send(self, &collected{snap: fn()})
	}()
}

func (b *broadcaster) broadcast(ctx actor.Context, snap any) {
	b.latest.v.Store(snap)
	if b.cfg.Publish != nil && !b.cfg.Publish() {
		return
	}
	msg, err := rooms.NewBroadcast(b.cfg.Event, snap)
	if err != nil {
		b.cfg.Logger.Error("encode metrics", slog.Any("err", err))
		return
	}
	ctx.Send(b.cfg.Rooms, &rooms.Publish{Rooms: []string{b.cfg.Room}, Broadcast: msg})
}

// every sends msg to pid every interval until the returned stop is called,
// and its goroutine ends with stop. protoactor's scheduler.SendRepeatedly
// would do, but its timer is read by its callback while cancel stops it,
// a data race the race detector reports.
func every(sys *actor.ActorSystem, interval time.Duration, pid *actor.PID, msg any) (stop func()) {
	done := make(chan struct{})
	t := time.NewTicker(interval)
	go func() {
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sys.Root.Send(pid, msg)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}
