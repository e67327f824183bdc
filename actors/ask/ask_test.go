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
