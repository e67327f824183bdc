package transport

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// spawnSession asks the supervisor to start a session actor.
type spawnSession struct {
	info  *RequestInfo
	ws    *wsConn
	reply chan *actor.PID
}

// supervisor is the parent of every session actor on this node. Stopping it
// stops them all, which is how Shutdown closes every client.
type supervisor struct{ srv *Server }

func (a *supervisor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Terminated:
	case *spawnSession:
		a.spawn(ctx, m)
	default:
		a.srv.cfg.Logger.Warn("session supervisor: unknown message", slog.String("type", fmt.Sprintf("%T", m)))
	}
}

func (a *supervisor) spawn(ctx actor.Context, m *spawnSession) {
	srv := a.srv
	sid := newSessionID()
	sess := &Session{srv: srv, id: sid, info: m.info, ws: m.ws}
	root := ctx.ActorSystem().Root
	self := actor.NewPID(ctx.ActorSystem().Address(), ctx.Self().Id+"/"+sid)
	sess.out = newOutbox(srv.cfg.MaxQueueBytes, srv.cfg.WriteTimeout, srv.writers, func(r Reason) {
		root.Send(self, &closeSession{reason: r})
	})
	if m.ws != nil {
		sess.out.useWebSocket(m.ws)
	}
	sess.handler = srv.newHandler(m.info)
	pid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return sess }), sid)
	if err != nil {
		// A random 120-bit id never collides in practice; refuse rather
		// than share a session.
		srv.cfg.Logger.Error("spawn session", slog.Any("err", err))
		m.reply <- nil
		return
	}
	srv.sessions.Add(1)
	m.reply <- pid
}

// sessionStrategy stops, never restarts, a failed session: a restart would
// keep the connection with half its state. The session's Stopping handler
// closes the connection with a named reason.
func sessionStrategy(log *slog.Logger) actor.SupervisorStrategy {
	return actor.NewOneForOneStrategy(0, time.Second, func(reason any) actor.Directive {
		log.Error("session actor failed", slog.Any("reason", reason))
		return actor.StopDirective
	})
}
