package rooms

import (
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
)

// sink is a test Outbox that records what it receives.
type sink struct {
	mu  sync.Mutex
	got []*Broadcast
	n   atomic.Int64
}

func (s *sink) Deliver(b *Broadcast) bool {
	s.mu.Lock()
	s.got = append(s.got, b)
	s.mu.Unlock()
	s.n.Add(1)
	return true
}

func (s *sink) events() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.got))
	for i, b := range s.got {
		out[i] = b.Event
	}
	return out
}

func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
}

// joiner is a stand-in socket actor that forwards Joined/Left to a channel.
func joiner(t *testing.T, sys *actor.ActorSystem, replies chan any) *actor.PID {
	t.Helper()
	return sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *Joined, *Left:
			replies <- m
		}
	}))
}

func publish(sys *actor.ActorSystem, mgr *actor.PID, p *Publish) int {
	ch := make(chan int, 1)
	p.Reply = ch
	sys.Root.Send(mgr, p)
	return <-ch
}

func TestJoinAnnounceLeave(t *testing.T) {
	sys := quietSystem()
	mgr := sys.Root.Spawn(NewManagerProps(nil, nil))
	replies := make(chan any, 16)
	pid := joiner(t, sys, replies)
	a, b := &sink{}, &sink{}

	sys.Root.Send(mgr, &Join{Room: "r", Member: Member{SocketID: "a", PID: pid, Outbox: a}, Ref: 1})
	require.Equal(t, &Joined{Room: "r", SocketID: "a", Size: 1, Ref: 1}, <-replies)
	hello := &Broadcast{Event: "hello"}
	sys.Root.Send(mgr, &Join{Room: "r", Member: Member{SocketID: "b", PID: pid, Outbox: b}, Announce: hello, Ref: 2})
	require.Equal(t, &Joined{Room: "r", SocketID: "b", Size: 2, Ref: 2}, <-replies)

	require.Equal(t, 2, publish(sys, mgr, &Publish{Rooms: []string{"r"}, Broadcast: &Broadcast{Event: "x"}}))
	require.Eventually(t, func() bool { return b.n.Load() == 1 && a.n.Load() == 2 }, time.Second, time.Millisecond)
	require.Equal(t, []string{"hello", "x"}, a.events(), "the announce goes to the others")
	require.Equal(t, []string{"x"}, b.events(), "and not to the joiner")

	sys.Root.Send(mgr, &Leave{Room: "r", SocketID: "a", ReplyTo: pid, Ref: 3})
	require.Equal(t, &Left{Room: "r", SocketID: "a", Size: 1, Ref: 3}, <-replies)
	require.Equal(t, 1, publish(sys, mgr, &Publish{Rooms: []string{"r"}, Broadcast: &Broadcast{Event: "y"}}))
	require.Eventually(t, func() bool { return b.n.Load() == 2 }, time.Second, time.Millisecond)
	require.Equal(t, int64(2), a.n.Load(), "a left before y")
}

func TestPublishToSeveralRoomsReachesEachSocketOnce(t *testing.T) {
	sys := quietSystem()
	mgr := sys.Root.Spawn(NewManagerProps(nil, nil))
	replies := make(chan any, 16)
	pid := joiner(t, sys, replies)
	both, onlyA, onlyB := &sink{}, &sink{}, &sink{}
	for _, j := range []struct {
		room, id string
		out      *sink
	}{{"a", "both", both}, {"b", "both", both}, {"a", "onlyA", onlyA}, {"b", "onlyB", onlyB}} {
		sys.Root.Send(mgr, &Join{Room: j.room, Member: Member{SocketID: j.id, PID: pid, Outbox: j.out}})
		<-replies
	}
	publish(sys, mgr, &Publish{Rooms: []string{"a", "b", "missing"}, Except: "onlyB", Broadcast: &Broadcast{Event: "e"}})
	publish(sys, mgr, &Publish{Rooms: []string{"a"}, Broadcast: &Broadcast{Event: "fence"}})
	require.Eventually(t, func() bool { return onlyA.n.Load() == 2 }, time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return both.n.Load() == 2 }, time.Second, time.Millisecond)
	require.Equal(t, []string{"e", "fence"}, both.events(), "once, though in both rooms")
	require.Empty(t, onlyB.events(), "the excepted socket gets nothing")
}

func TestEmptyRoomIsStoppedAndRecreated(t *testing.T) {
	sys := quietSystem()
	mgr := sys.Root.Spawn(NewManagerProps(nil, nil))
	replies := make(chan any, 16)
	pid := joiner(t, sys, replies)
	stats := func() Stats {
		ch := make(chan Stats, 1)
		sys.Root.Send(mgr, &GetStats{Reply: ch})
		return <-ch
	}
	s := &sink{}
	sys.Root.Send(mgr, &Join{Room: "r", Member: Member{SocketID: "a", PID: pid, Outbox: s}})
	<-replies
	require.Equal(t, 1, stats().Rooms)
	sys.Root.Send(mgr, &LeaveAll{SocketID: "a", Rooms: []string{"r", "never-joined"}})
	require.Equal(t, 0, stats().Rooms)
	require.Equal(t, 0, publish(sys, mgr, &Publish{Rooms: []string{"r"}, Broadcast: &Broadcast{Event: "lost"}}))
	sys.Root.Send(mgr, &Join{Room: "r", Member: Member{SocketID: "a", PID: pid, Outbox: s}})
	require.Equal(t, 1, (<-replies).(*Joined).Size)
	require.Equal(t, 1, publish(sys, mgr, &Publish{Rooms: []string{"r"}, Broadcast: &Broadcast{Event: "found"}}))
	require.Eventually(t, func() bool { return s.n.Load() == 1 }, time.Second, time.Millisecond)
	require.Equal(t, []string{"found"}, s.events())
}

func TestBroadcastWireIsEncodedOnce(t *testing.T) {
	b := &Broadcast{Event: "e"}
	var calls atomic.Int64
	enc := func(*Broadcast) any { calls.Add(1); return "wire" }
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); require.Equal(t, "wire", b.Wire(enc)) }()
	}
	wg.Wait()
	for i := 0; i < 100; i++ {
		b.Wire(enc)
	}
	require.LessOrEqual(t, calls.Load(), int64(8), "only first callers may encode")
}

func BenchmarkRoomBroadcast_10(b *testing.B)    { benchmarkRoomBroadcast(b, 10) }
func BenchmarkRoomBroadcast_1000(b *testing.B)  { benchmarkRoomBroadcast(b, 1000) }
func BenchmarkRoomBroadcast_10000(b *testing.B) { benchmarkRoomBroadcast(b, 10000) }

// countSink counts deliveries without allocating.
type countSink struct{ n *atomic.Int64 }

func (c countSink) Deliver(*Broadcast) bool { c.n.Add(1); return true }

// benchmarkRoomBroadcast measures one room's fan-out loop: a broadcast is
// handed to every member's outbox. allocs/op is per broadcast; it must not
// grow with the room size.
func benchmarkRoomBroadcast(b *testing.B, n int) {
	r := newRoom("bench", slog.Default())
	var delivered atomic.Int64
	out := countSink{n: &delivered}
	for i := 0; i < n; i++ {
		id := strconv.Itoa(i)
		r.index[id] = len(r.members)
		r.members = append(r.members, Member{SocketID: id, Outbox: out})
	}
	bc := &Broadcast{Event: "tick", Data: []byte(`{"n":1}`)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.fanOut(bc, "", nil)
	}
	b.StopTimer()
	if delivered.Load() != int64(n)*int64(b.N) {
		b.Fatalf("delivered %d, want %d", delivered.Load(), int64(n)*int64(b.N))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(n)*int64(b.N)), "ns/delivery")
}

// TestPublishSurvivesARoomStoppingMidway publishes to three rooms while the
// middle one loses its last member: the third room must still get it.
func TestPublishSurvivesARoomStoppingMidway(t *testing.T) {
	sys := quietSystem()
	mgr := sys.Root.Spawn(NewManagerProps(nil, nil))
	replies := make(chan any, 16)
	pid := joiner(t, sys, replies)
	first, middle, last := &sink{}, &sink{}, &sink{}
	for _, j := range []struct {
		room, id string
		out      *sink
	}{{"r1", "a", first}, {"r2", "b", middle}, {"r3", "c", last}} {
		sys.Root.Send(mgr, &Join{Room: j.room, Member: Member{SocketID: j.id, PID: pid, Outbox: j.out}})
		<-replies
	}
	// Queued back to back: the leave stops r2 before r1 has passed the
	// delivery on.
	sys.Root.Send(mgr, &Publish{Rooms: []string{"r1", "r2", "r3"}, Broadcast: &Broadcast{Event: "e"}})
	sys.Root.Send(mgr, &LeaveAll{SocketID: "b", Rooms: []string{"r2"}})
	require.Eventually(t, func() bool { return last.n.Load() == 1 }, time.Second, time.Millisecond)
	require.Equal(t, int64(1), first.n.Load())
}

// TestRestartedRoomKeepsItsMembers makes a room panic and publishes to it
// afterwards: every member still receives the broadcast, and the manager's
// count still matches the members who get it.
func TestRestartedRoomKeepsItsMembers(t *testing.T) {
	sys := quietSystem()
	mgr := sys.Root.Spawn(NewManagerProps(slog.New(slog.NewTextHandler(io.Discard, nil)), nil))
	replies := make(chan any, 16)
	pid := joiner(t, sys, replies)
	a, b := &sink{}, &sink{}
	sys.Root.Send(mgr, &Join{Room: "r", Member: Member{SocketID: "a", PID: pid, Outbox: a}})
	<-replies
	sys.Root.Send(mgr, &Join{Room: "r", Member: Member{SocketID: "b", PID: pid, Outbox: b}})
	<-replies

	restarted := supervision(t, sys)
	for range 3 {
		sys.Root.Send(mgr, &Fail{Room: "r"})
		select {
		case e := <-restarted:
			require.Equal(t, actor.RestartDirective, e.Directive)
		case <-time.After(2 * time.Second):
			t.Fatal("the room's failure was not supervised")
		}
	}

	require.Equal(t, 2, publish(sys, mgr, &Publish{Rooms: []string{"r"}, Broadcast: &Broadcast{Event: "after"}}))
	require.Eventually(t, func() bool { return a.n.Load() == 1 && b.n.Load() == 1 }, time.Second, time.Millisecond)
	sys.Root.Send(mgr, &Leave{Room: "r", SocketID: "a", ReplyTo: pid})
	require.Equal(t, 1, (<-replies).(*Left).Size, "the restarted room still knows who is in it")
}

// TestFailingManagerKeepsEveryRoom makes the manager panic: its guardian
// resumes it, so every room and membership of the node is still there.
func TestFailingManagerKeepsEveryRoom(t *testing.T) {
	sys := quietSystem()
	mgr := sys.Root.Spawn(NewManagerProps(slog.New(slog.NewTextHandler(io.Discard, nil)), nil))
	replies := make(chan any, 16)
	pid := joiner(t, sys, replies)
	a := &sink{}
	sys.Root.Send(mgr, &Join{Room: "r", Member: Member{SocketID: "a", PID: pid, Outbox: a}})
	<-replies

	failed := supervision(t, sys)
	for range 3 {
		sys.Root.Send(mgr, &FailManager{})
		select {
		case e := <-failed:
			require.Equal(t, actor.ResumeDirective, e.Directive)
		case <-time.After(2 * time.Second):
			t.Fatal("the manager's failure was not supervised")
		}
	}
	require.Equal(t, 1, publish(sys, mgr, &Publish{Rooms: []string{"r"}, Broadcast: &Broadcast{Event: "after"}}))
	require.Eventually(t, func() bool { return a.n.Load() == 1 }, time.Second, time.Millisecond)
}

// TestRoomFailingTooOftenIsForgotten fails a room past its restart budget:
// the supervisor stops it, the manager forgets it (its size no longer
// counted) and the next join creates the room afresh.
func TestRoomFailingTooOftenIsForgotten(t *testing.T) {
	sys := quietSystem()
	mgr := sys.Root.Spawn(NewManagerProps(slog.New(slog.NewTextHandler(io.Discard, nil)), nil))
	replies := make(chan any, 16)
	pid := joiner(t, sys, replies)
	s := &sink{}
	sys.Root.Send(mgr, &Join{Room: "r", Member: Member{SocketID: "a", PID: pid, Outbox: s}})
	<-replies
	stopped := make(chan struct{}, 1)
	sub := sys.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*actor.SupervisorEvent); ok && e.Directive == actor.StopDirective {
			stopped <- struct{}{}
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	for range 11 {
		sys.Root.Send(mgr, &Fail{Room: "r"})
	}
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		t.Fatal("the room was not stopped")
	}
	require.Eventually(t, func() bool {
		ch := make(chan Stats, 1)
		sys.Root.Send(mgr, &GetStats{Reply: ch})
		return (<-ch).Rooms == 0
	}, time.Second, time.Millisecond)
	sys.Root.Send(mgr, &Join{Room: "r", Member: Member{SocketID: "a", PID: pid, Outbox: s}})
	require.Equal(t, 1, (<-replies).(*Joined).Size)
	require.Equal(t, 1, publish(sys, mgr, &Publish{Rooms: []string{"r"}, Broadcast: &Broadcast{Event: "again"}}))
	require.Eventually(t, func() bool { return s.n.Load() == 1 }, time.Second, time.Millisecond)
}

// supervision delivers the system's supervision events until the test ends.
func supervision(t *testing.T, sys *actor.ActorSystem) <-chan *actor.SupervisorEvent {
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
