package ask

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// ErrAbandoned is what an actor answers a Request whose caller gave up
// before the actor began it: the work was not done.
var ErrAbandoned = errors.New("ask: the caller gave up before the work began")

// Margin is the part of a Request's time kept back from the work for
// everything after it (checking an uncertain outcome, answering), so the
// answer reaches the caller before the caller's deadline.
const Margin = 1500 * time.Millisecond

// Grace bounds how long a caller waits past its deadline for a Request an
// actor has begun: the work's own deadline ends it well before that.
const Grace = 5 * time.Second

// Request states.
const (
	pending int32 = iota
	begun
	abandoned
)

// Request is the part of a command that makes its answer the truth. The
// caller sets a deadline; the actor Begins the request before it does any
// work and gives up if the caller already did; the caller, at its deadline,
// gives up only if the work has not begun, and otherwise waits for the
// outcome. So a failure answer always means the work was not done, and a
// request nobody waits for any more is not done at all. Nested work (a
// counter asking a service actor) passes the same Request on: the one that
// does the work Begins it, and every inner deadline is the outer one.
type Request struct {
	deadline time.Time
	state    atomic.Int32
}

// NewRequest returns a Request that the caller waits for until ctx's
// deadline, or for timeout when ctx has none.
func NewRequest(ctx context.Context, timeout time.Duration) *Request {
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(timeout)
	}
	return &Request{deadline: d}
}

// Begin is called by the actor that does the work, before it starts: true
// means go ahead (the caller will wait for the outcome); false means the
// caller has given up, or would before the work could end, and nothing may
// be done. A Request handed on after its work began (a counter trying a
// second service) may be begun again while time is left.
func (r *Request) Begin() bool {
	if time.Until(r.deadline) < Margin {
		r.state.CompareAndSwap(pending, abandoned)
		return false
	}
	return r.state.CompareAndSwap(pending, begun) || r.state.Load() == begun
}

// Begun reports whether an actor began the work.
func (r *Request) Begun() bool { return r.state.Load() == begun }

// Live reports whether the caller still waits and the work has not begun.
func (r *Request) Live() bool { return r.state.Load() == pending && time.Until(r.deadline) >= Margin }

// Deadline is the caller's deadline.
func (r *Request) Deadline() time.Time { return r.deadline }

// WorkContext is the context for the work: it ends Margin before the
// caller's deadline.
func (r *Request) WorkContext() (context.Context, context.CancelFunc) {
	return context.WithDeadline(context.Background(), r.deadline.Add(-Margin))
}

// abandon is the caller giving up: true if the work had not begun (and now
// never will).
func (r *Request) abandon() bool {
	return r.state.CompareAndSwap(pending, abandoned) || r.state.Load() == abandoned
}

// Call sends the message mk builds around req and a fresh reply channel to
// pid, and waits for the answer until req's deadline. If the actor has not
// begun the work by then, Call returns ErrTimeout and the work is never
// done; if it has, Call waits for the outcome (at most Grace longer).
func Call[T any](sys *actor.ActorSystem, pid *actor.PID, req *Request, mk func(chan T) any) (T, error) {
	ch := make(chan T, 1)
	sys.Root.Send(pid, mk(ch))
	t := time.NewTimer(time.Until(req.deadline))
	defer t.Stop()
	select {
	case v := <-ch:
		return v, nil
	case <-t.C:
	}
	if req.abandon() {
		var zero T
		return zero, ErrTimeout
	}
	t.Reset(Grace)
	select {
	case v := <-ch:
		return v, nil
	case <-t.C:
		var zero T
		return zero, ErrTimeout
	}
}
