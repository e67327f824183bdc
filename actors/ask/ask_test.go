package ask

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
)

type question struct{ reply chan int }

func TestAsk(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	answers := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if q, ok := ctx.Message().(*question); ok {
			q.reply <- 42
		}
	}))
	silent := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))

	v, err := Ask(sys, answers, time.Second, func(ch chan int) any { return &question{reply: ch} })
	require.NoError(t, err)
	require.Equal(t, 42, v)

	_, err = Ask(sys, silent, 20*time.Millisecond, func(ch chan int) any { return &question{reply: ch} })
	require.ErrorIs(t, err, ErrTimeout)
}

type job struct {
	req   *Request
	reply chan bool
}

func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
}

// A request the actor reaches after its caller gave up is not begun: the
// failure the caller got is the truth.
func TestCallAbandonsWorkNotBegun(t *testing.T) {
	sys := quietSystem()
	gate := make(chan struct{})
	began := make(chan bool, 1)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if j, ok := ctx.Message().(*job); ok {
			<-gate // busy with something else until the caller has gone
			began <- j.req.Begin()
			j.reply <- true
		}
	}))
	req := &Request{deadline: time.Now().Add(Margin + 50*time.Millisecond)}
	_, err := Call(sys, pid, req, func(ch chan bool) any { return &job{req: req, reply: ch} })
	require.ErrorIs(t, err, ErrTimeout)
	close(gate)
	require.False(t, <-began, "the actor must not begin work its caller gave up on")
	require.False(t, req.Begun())
}

// Work that began is waited for past the deadline, so its outcome is what
// the caller is told.
func TestCallWaitsForWorkBegun(t *testing.T) {
	sys := quietSystem()
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if j, ok := ctx.Message().(*job); ok {
			require.True(t, j.req.Begin())
			<-time.After(time.Until(j.req.Deadline()) + 10*time.Millisecond) // the work overruns the caller's deadline
			j.reply <- true
		}
	}))
	req := &Request{deadline: time.Now().Add(Margin + 100*time.Millisecond)}
	v, err := Call(sys, pid, req, func(ch chan bool) any { return &job{req: req, reply: ch} })
	require.NoError(t, err)
	require.True(t, v)
	require.True(t, req.Begun())
}

// A request without enough time left for its work is refused at Begin;
// one handed on after it began may be begun again.
func TestRequestBegin(t *testing.T) {
	late := &Request{deadline: time.Now().Add(Margin / 2)}
	require.False(t, late.Begin())
	require.False(t, late.Live())
	ok := &Request{deadline: time.Now().Add(time.Minute)}
	require.True(t, ok.Live())
	require.True(t, ok.Begin())
	require.True(t, ok.Begin(), "a nested step continues the same request")
	require.False(t, ok.abandon(), "begun work is not abandoned")
	ctx, cancel := ok.WorkContext()
	defer cancel()
	d, _ := ctx.Deadline()
	require.WithinDuration(t, ok.Deadline().Add(-Margin), d, time.Millisecond)
}
