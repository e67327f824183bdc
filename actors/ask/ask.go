// Package ask is how queuecast waits for an actor's answer from outside the
// actor world (an HTTP handler, the metrics collector): the request carries
// a reply channel, and the wait is bounded. Ask is for questions, which may
// be asked again; Call with a Request is for commands, whose failure answer
// must mean that nothing was done (see Request).
package ask

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// ErrTimeout is returned when the actor did not answer in time.
var ErrTimeout = errors.New("ask: actor did not answer in time")

// Ask sends the message mk builds around a fresh reply channel to pid and
// waits up to timeout for the answer. The channel holds one answer, so a late
// reply never blocks the actor.
func Ask[T any](sys *actor.ActorSystem, pid *actor.PID, timeout time.Duration, mk func(chan T) any) (T, error) {
	ch := make(chan T, 1)
	sys.Root.Send(pid, mk(ch))
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case v := <-ch:
		return v, nil
	case <-t.C:
		var zero T
		return zero, ErrTimeout
	}
}
