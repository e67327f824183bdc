package transport

import (
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/gateway/engineio"
	"github.com/queuecast/queuecast/gateway/wsframe"
)

// Handler is the application on top of one Engine.IO session. Every method
// is called from the session actor, one call at a time.
type Handler interface {
	// Open is called once, after the open packet was queued.
	Open(s *Session)
	// Message is called for each message packet, in order.
	Message(s *Session, p engineio.Packet)
	// Receive gets the actor messages the session does not handle itself.
	Receive(s *Session, msg any)
	// Closed is called once when the session ends.
	Closed(s *Session, reason Reason)
}

// HandlerFactory makes the Handler of a new session.
type HandlerFactory func(info *RequestInfo) Handler

// RequestInfo describes the HTTP request that opened a session.
type RequestInfo struct {
	Transport  string
	RemoteAddr string
	UserAgent  string
	Origin     string
	Language   string
}

// Session is the actor that owns one Engine.IO session.
type Session struct {
	srv     *Server
	id      string
	info    *RequestInfo
	handler Handler
	ctx     actor.Context
	out     *Outbox

	ws           *wsConn           // active WebSocket, nil on polling
	probe        *wsConn           // WebSocket being upgraded to
	probed       bool              // "2probe" answered, waiting for "5"
	probeGet     chan<- pollResult // a GET held during the upgrade
	upgraded     bool
	awaitingPong bool
	pongGrace    bool   // the deadline may still be pushed back once
	closed       bool   // ended; the actor lingers briefly, then stops
	pushed       bool   // frames queued this turn, for flushOwn
	stopping     bool   // the actor is being stopped
	noopOwed     bool   // the client closed with no GET parked: the next one gets a noop
	closeEcho    *Frame // answer to the client's WebSocket close frame, once it sent one

	pingTimer    *time.Timer
	pongTimer    *time.Timer
	upgradeTimer *time.Timer
}

// ID returns the Engine.IO session id.
func (s *Session) ID() string { return s.id }

// Info returns the request that opened the session.
func (s *Session) Info() *RequestInfo { return s.info }

// Context returns the actor context of the message being handled.
func (s *Session) Context() actor.Context { return s.ctx }

// Outbox returns the session's outbound queue, which other actors may push
// shared frames into.
func (s *Session) Outbox() *Outbox { return s.out }

// Transport names the current transport, "polling" or "websocket".
func (s *Session) Transport() string {
	if s.ws != nil {
		return "websocket"
	}
	return "polling"
}

// Push queues a frame for the client.
// The frame is written when the current message has been handled, by this
// actor itself, so a reply costs no hand-off to another goroutine.
func (s *Session) Push(f *Frame) bool {
	s.pushed = true
	return s.out.pushDeferred(f)
}

// Close ends the session.
func (s *Session) Close(reason Reason) { s.close(reason) }

// Receive implements actor.Actor.
func (s *Session) Receive(ctx actor.Context) {
	s.ctx = ctx
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.start(ctx)
	case *pollGet:
		s.onPollGet(m)
	case *pollPost:
		s.onPollPost(m)
	case *wsMessage:
		s.onWSMessage(m)
	case *wsPing:
		s.onWSPing(m)
	case *wsAttach:
		s.onWSAttach(m)
	case *wsClosed:
		s.onWSClosed(m)
	case *pingTick:
		s.onPingTick()
	case *pongDeadline:
		if s.awaitingPong && !s.closed {
			s.close(ReasonPingTimeout)
		}
	case *upgradeExpired:
		s.abortUpgrade()
	case *lingerOver:
		ctx.Stop(ctx.Self())
	case *probeGetExpired:
		s.answerProbeGet(pollResult{status: 200, body: frameNoop.appendPolling(nil)})
	case *closeSession:
		s.close(m.reason)
	case *actor.Stopping:
		// Stopped by the server shutting down, or by the guardian after
		// this actor failed (it stops, never restarts, a session).
		s.stopping = true
		if s.srv.closing.Load() {
			s.close(ReasonServerShutdown)
		} else {
			s.close(ReasonHandlerPanic)
		}
	case *actor.Stopped:
		s.srv.forget(s.id)
	case *actor.Restarting:
	default:
		if !s.closed {
			s.handler.Receive(s, m)
		}
	}
	s.ctx = nil
	if s.pushed {
		s.pushed = false
		s.out.flushOwn()
	}
}

func (s *Session) start(ctx actor.Context) {
	upgrades := []string{}
	if s.ws == nil {
		upgrades = []string{"websocket"}
	}
	hs, _ := json.Marshal(engineio.Handshake{
		SID:          s.id,
		Upgrades:     upgrades,
		PingInterval: s.srv.cfg.PingInterval.Milliseconds(),
		PingTimeout:  s.srv.cfg.PingTimeout.Milliseconds(),
		MaxPayload:   int64(s.srv.cfg.MaxPayload),
	})
	s.Push(NewFrame(engineio.Packet{Type: engineio.Open, Data: hs}))
	s.pingTimer = s.after(s.srv.cfg.PingInterval, pingTickMsg)
	s.pongTimer = s.after(time.Hour, pongDeadlineMsg)
	s.pongTimer.Stop()
	s.handler.Open(s)
}

func (s *Session) onPingTick() {
	if s.closed || s.awaitingPong {
		return
	}
	s.awaitingPong = true
	s.pongGrace = true
	s.out.Push(framePing)
	s.pongTimer.Reset(s.srv.cfg.PingTimeout)
}

func (s *Session) onPong() {
	if !s.awaitingPong {
		return
	}
	s.awaitingPong = false
	s.pongTimer.Stop()
	s.pingTimer.Reset(s.srv.cfg.PingInterval)
}

// onPacket handles one packet from the client's current transport.
func (s *Session) onPacket(p engineio.Packet) {
	switch p.Type {
	case engineio.Message:
		if s.awaitingPong && s.pongGrace {
			// A client busy sending is alive: like the reference server,
			// the first message while a pong is due pushes the deadline
			// back once.
			s.pongGrace = false
			s.pongTimer.Reset(s.srv.cfg.PingTimeout)
		}
		s.handler.Message(s, p)
	case engineio.Pong:
		s.onPong()
	case engineio.Close:
		// A GET the client sent before its close gets a noop. One still on
		// its way (the client sends both at once, on two connections) may
		// reach the session just after the close: it is owed the noop too.
		s.noopOwed = !s.out.releasePoll(frameNoop) && s.ws == nil && s.probeGet == nil
		s.close(ReasonClientClose)
	case engineio.Noop:
	default:
		// Open, Upgrade outside an upgrade, or a ping from the client (the
		// v4 heartbeat goes the other way).
		s.close(ReasonParseError)
	}
}

func (s *Session) onPollGet(m *pollGet) {
	switch {
	case s.closed:
		// What a server-side close left for the client (the close packet
		// last) goes to the next GET; otherwise the session is gone.
		if s.noopOwed {
			s.noopOwed = false
			m.reply <- pollResult{status: 200, body: frameNoop.appendPolling(nil)}
		} else if !s.out.poll(m.reply) {
			m.reject()
		}
	case s.upgraded || s.ws != nil:
		m.reply <- pollResult{status: 400, body: errBadRequest}
	case s.probe != nil:
		// The WebSocket reader and this GET race into the mailbox: a
		// "2probe" and "5" the client sent before this GET may still be on
		// their way. A real client sends no new GET once it probes. Hold
		// the GET briefly; "5" answers it 400, otherwise it gets a noop.
		s.holdGet(m.reply)
	default:
		if !s.out.poll(m.reply) {
			m.reply <- pollResult{status: 400, body: errBadRequest}
			s.close(ReasonProtocolError)
		}
	}
}

func (s *Session) onPollPost(m *pollPost) {
	if s.closed {
		m.reject()
		return
	}
	if s.upgraded || s.ws != nil {
		m.reply <- pollResult{status: 400, body: errBadRequest}
		return
	}
	err := engineio.DecodePayload(m.body, func(p engineio.Packet) error {
		if s.closed {
			return errSessionClosed
		}
		s.onPacket(p)
		return nil
	})
	if err != nil && !errors.Is(err, errSessionClosed) {
		m.reply <- pollResult{status: 400, body: errBadRequest}
		s.close(ReasonParseError)
		return
	}
	m.reply <- pollResult{status: 200, body: okBody}
}

func (s *Session) onWSMessage(m *wsMessage) {
	m.conn.handled(len(m.data))
	if s.closed {
		return
	}
	if m.conn == s.probe {
		s.onProbeMessage(m)
		return
	}
	if m.conn != s.ws {
		return
	}
	if m.binary {
		s.onPacket(engineio.Packet{Type: engineio.Message, Data: m.data, Binary: true})
		return
	}
	p, err := engineio.DecodeText(m.data)
	if err != nil {
		s.close(ReasonParseError)
		return
	}
	s.onPacket(p)
}

func (s *Session) onWSPing(m *wsPing) {
	m.conn.handled(len(m.data))
	if m.conn == s.ws && !s.closed {
		s.out.Push(&Frame{ws: wsframe.AppendFrame(nil, wsframe.OpPong, nil, m.data)})
	}
}

func (s *Session) onWSAttach(m *wsAttach) {
	if s.closed || s.ws != nil || s.probe != nil {
		m.reject()
		return
	}
	m.reply <- true
	s.probe = m.conn
	s.upgradeTimer = s.after(s.srv.cfg.UpgradeTimeout, upgradeExpiredMsg)
}

// onProbeMessage runs the upgrade: "2probe" is answered with "3probe" and
// the parked GET is released with a noop; "5" moves the session to the
// WebSocket. Anything else aborts the upgrade.
func (s *Session) onProbeMessage(m *wsMessage) {
	switch {
	case !m.binary && !s.probed && string(m.data) == "2probe":
		s.probed = true
		writeDirect(s.probe, probeReply)
		// The GET parked before the probe is held like one arriving now:
		// it may be a request the client sent after its "5".
		if w := s.out.takeWaiter(); w != nil {
			s.holdGet(w)
		}
	case !m.binary && s.probed && string(m.data) == "5":
		s.upgradeTimer.Stop()
		s.ws, s.probe, s.probed, s.upgraded = s.probe, nil, false, true
		s.answerProbeGet(pollResult{status: 400, body: errBadRequest})
		s.out.useWebSocket(s.ws)
		s.srv.cfg.Logger.Debug("transport upgraded", slog.String("sid", s.id))
		s.handler.Receive(s, upgradedMsg)
	default:
		s.abortUpgrade()
	}
}

func (s *Session) abortUpgrade() {
	if s.probe == nil {
		return
	}
	if s.upgradeTimer != nil {
		s.upgradeTimer.Stop()
	}
	refuse(s.probe, wsframe.ClosePolicy, "upgrade aborted")
	s.probe, s.probed = nil, false
	s.answerProbeGet(pollResult{status: 200, body: frameNoop.appendPolling(nil)})
}

func (s *Session) onWSClosed(m *wsClosed) {
	reason := readReason(m.err)
	switch m.conn {
	case s.probe:
		s.upgradeTimer.Stop()
		switch {
		case m.err == errPeerClosed:
			writeDirect(m.conn, wsframe.AppendClose(nil, m.code, ""))
			m.conn.shut()
		case reason != ReasonTransportClose:
			// The client broke the protocol: it is told why.
			refuse(m.conn, closeCode(reason), string(reason))
		}
		s.probe, s.probed = nil, false
		s.answerProbeGet(pollResult{status: 200, body: frameNoop.appendPolling(nil)})
	case s.ws:
		if m.err == errPeerClosed && !s.closed {
			// RFC 6455 section 5.5.1: the client's close frame is answered
			// with one echoing its status code, or with none if it had none.
			s.closeEcho = &Frame{ws: wsframe.AppendClose(nil, m.code, "")}
		}
		s.close(reason)
	}
}

// readReason names why a WebSocket's reader stopped.
func readReason(err error) Reason {
	switch {
	case errors.Is(err, errReadLimit):
		return ReasonPayloadTooLarge
	case errors.Is(err, errWSProtocol):
		return ReasonProtocolError
	case errors.Is(err, errInvalidUTF8):
		return ReasonInvalidUTF8
	}
	return ReasonTransportClose
}

// closeCode is the WebSocket close code that goes with a reason.
func closeCode(r Reason) uint16 {
	switch r {
	case ReasonServerShutdown:
		return wsframe.CloseGoingAway
	case ReasonPayloadTooLarge:
		return wsframe.CloseTooBig
	case ReasonProtocolError:
		return wsframe.CloseProtocol
	case ReasonInvalidUTF8:
		return wsframe.CloseInvalidData
	case ReasonRateLimited:
		return wsframe.ClosePolicy
	case ReasonHandlerPanic:
		return wsframe.CloseServerError
	}
	return wsframe.CloseNormal
}

// close ends the session once: the handler hears of it first, then the
// client gets a close packet and the connection is closed, then the actor
// stops.
func (s *Session) close(reason Reason) {
	if s.closed {
		return
	}
	s.closed = true
	if s.pingTimer != nil {
		s.pingTimer.Stop()
		s.pongTimer.Stop()
	}
	if s.upgradeTimer != nil {
		s.upgradeTimer.Stop()
	}
	if s.probe != nil {
		refuse(s.probe, wsframe.CloseGoingAway, string(reason))
		s.probe = nil
	}
	s.answerProbeGet(pollResult{status: 200, body: frameClose.appendPolling(nil)})
	s.handler.Closed(s, reason)
	if s.closeEcho != nil {
		// After the client's close frame nothing but the answer to it
		// goes out: no Engine.IO close packet.
		s.out.close(false, s.closeEcho)
	} else {
		s.out.close(keepsBacklog(reason), frameClose, &Frame{ws: wsframe.AppendClose(nil, closeCode(reason), string(reason))})
	}
	s.srv.sessionClosed(s, reason)
	if s.ctx == nil || s.stopping {
		return
	}
	if s.ws != nil {
		// Nothing of a WebSocket session's client waits in the mailbox:
		// HTTP handlers that raced the close give up once it is gone.
		s.ctx.Stop(s.ctx.Self())
		return
	}
	// A polling session lingers before stopping: the runtime drops whatever
	// is still in a stopped actor's mailbox, so requests already on their
	// way (a POST, a GET, an upgrade) are answered by the closed session
	// instead, and the client collects what a server-side close left it.
	s.after(closeLinger, lingerOverMsg)
}

// closeLinger is how long a closed session keeps answering requests
// before its actor stops.
const closeLinger = time.Second

// keepsBacklog reports whether a polling client still gets what was queued
// when the session ended. A close the server decided on delivers it, close
// packet last, as the reference server does; a dead, timed-out or
// misbehaving client gets nothing more.
func keepsBacklog(r Reason) bool {
	switch r {
	case ReasonForcedClose, ReasonServerShutdown, ReasonHandlerPanic:
		return true
	}
	return false
}

// probeGetHold is how long a GET that arrives during an upgrade is held
// before it is released with a noop (the reference server re-sends its
// noop every 100ms).
const probeGetHold = 100 * time.Millisecond

// holdGet holds a GET during an upgrade: "5" answers it 400, otherwise it
// gets a noop after probeGetHold. A second one is refused at once.
func (s *Session) holdGet(reply chan<- pollResult) {
	if s.probeGet != nil {
		answer(reply, pollResult{status: 400, body: errBadRequest})
		return
	}
	s.probeGet = reply
	s.after(probeGetHold, probeGetExpiredMsg)
}

func (s *Session) answerProbeGet(r pollResult) {
	if s.probeGet != nil {
		answer(s.probeGet, r)
		s.probeGet = nil
	}
}

var (
	errSessionClosed = errors.New("transport: session closed")
	probeReply       = wsframe.AppendFrame(nil, wsframe.OpText, nil, []byte("3probe"))
)

// writeDirect writes a small frame to a WebSocket that has no writer yet
// (a probe). Its socket buffer is empty, so this does not block.
func writeDirect(c *wsConn, frame []byte) {
	_ = c.raw.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.raw.Write(frame)
}

// refuse closes a WebSocket that never became a session's transport.
func refuse(c *wsConn, code uint16, reason string) {
	writeDirect(c, wsframe.AppendClose(nil, code, reason))
	c.shut()
}

// after sends msg to the session itself once d has passed. Call it while
// handling a message.
func (s *Session) after(d time.Duration, msg any) *time.Timer {
	return SendAfter(s.ctx.ActorSystem(), d, s.ctx.Self(), msg)
}

// SendAfter sends msg to pid once d has passed, from a timer.
//
// The timer keeps the actor's address, not pid itself: a PID caches a
// pointer to its actor, and a stopped timer can stay in the runtime's timer
// heap until its deadline, so capturing pid would keep a closed session's
// whole state (outbox, connection, handler) alive for up to that long.
func SendAfter(system *actor.ActorSystem, d time.Duration, pid *actor.PID, msg any) *time.Timer {
	root, addr, id := system.Root, pid.Address, pid.Id
	return time.AfterFunc(d, func() { root.Send(actor.NewPID(addr, id), msg) })
}
