package transport

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// sessionSet is the live session actors of a server.
//
// Sessions are spawned from the root context under a guardian whose
// strategy stops a failed session; they are not the children of a
// supervisor actor. protoactor's child set removes a stopped child by
// shortening its slice without clearing the slot, and a PID caches a
// pointer to its actor: a burst of N connections would keep up to N closed
// sessions (state, outbox, connection) reachable for good. The set below
// holds PIDs only while their sessions live.
type sessionSet struct {
	mu      sync.Mutex
	live    map[string]*actor.PID
	stopped bool // Shutdown began: no new session
	wg      sync.WaitGroup
}

// spawn starts a session actor; ws is its WebSocket, or nil on polling. It
// returns nil once the server is shutting down.
func (s *Server) spawn(info *RequestInfo, ws *wsConn) *actor.PID {
	sid := s.sidTag + newSessionID()
	name := s.prefix + sid
	self := actor.NewPID(s.system.Address(), name)
	sess := &Session{srv: s, id: sid, info: info, ws: ws}
	root := s.system.Root
	sess.out = newOutbox(s.cfg.MaxQueueBytes, s.cfg.WriteTimeout, s.writers, func(r Reason) {
		root.Send(self, &closeSession{reason: r})
	})
	if ws != nil {
		sess.out.useWebSocket(ws)
	}
	sess.handler = s.newHandler(info)
	props := actor.PropsFromProducer(func() actor.Actor { return sess })

	set := &s.live
	set.mu.Lock()
	defer set.mu.Unlock()
	if set.stopped {
		return nil
	}
	pid, err := s.spawner.SpawnNamed(props, name)
	if err != nil {
		// A random 120-bit id never collides in practice; refuse rather
		// than share a session.
		s.cfg.Logger.Error("spawn session", slog.Any("err", err))
		return nil
	}
	set.live[sid] = pid
	set.wg.Add(1)
	s.sessions.Add(1)
	return pid
}

// forget is called by a session actor once it has stopped.
func (s *Server) forget(sid string) {
	set := &s.live
	set.mu.Lock()
	if _, ok := set.live[sid]; ok {
		delete(set.live, sid)
		set.wg.Done()
	}
	set.mu.Unlock()
}

// stopSessions stops every session (each closes with ReasonServerShutdown)
// and waits for them, bounded by ctx.
func (s *Server) stopSessions(ctx context.Context) error {
	set := &s.live
	set.mu.Lock()
	set.stopped = true
	pids := make([]*actor.PID, 0, len(set.live))
	for _, pid := range set.live {
		pids = append(pids, pid)
	}
	set.mu.Unlock()
	for _, pid := range pids {
		s.system.Root.Stop(pid)
	}
	done := make(chan struct{})
	go func() { set.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
