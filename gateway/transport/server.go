package transport

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/queuecast/queuecast/gateway/limits"
)

// Engine.IO error bodies, as the reference server writes them.
var (
	errTransportUnknown = []byte(`{"code":0,"message":"Transport unknown"}`)
	errSessionUnknown   = []byte(`{"code":1,"message":"Session ID unknown"}`)
	errBadHandshake     = []byte(`{"code":2,"message":"Bad handshake method"}`)
	errBadRequest       = []byte(`{"code":3,"message":"Bad request"}`)
	errForbidden        = []byte(`{"code":4,"message":"Forbidden"}`)
	errBadVersion       = []byte(`{"code":5,"message":"Unsupported protocol version"}`)
	errTooLarge         = []byte(`{"code":3,"message":"Payload too large"}`)
	errShuttingDown     = []byte(`{"code":3,"message":"Server shutting down"}`)
	okBody              = []byte("ok")
)

// Server is an Engine.IO server mounted on a Fiber router.
type Server struct {
	cfg        Config
	system     *actor.ActorSystem
	newHandler HandlerFactory
	spawner    *actor.RootContext // spawns sessions under the stopping guardian
	prefix     string             // of session actor names
	live       sessionSet
	admission  admission
	ws         fiber.Handler

	writers  *writers
	pollers  *pollers // nil: a goroutine reads each WebSocket
	closing  atomic.Bool
	closed   chan struct{} // closed once every session has stopped
	sessions atomic.Int64
	conns    sync.WaitGroup // open WebSocket readers
	fwd      *forwarder     // nil on a single node
	sidTag   string         // prefix of this node's session ids; "" on a single node
}

// NewServer returns a server whose sessions are actors in system.
// newHandler makes the application handler of every new session.
func NewServer(system *actor.ActorSystem, cfg Config, newHandler HandlerFactory) *Server {
	s := &Server{cfg: cfg.withDefaults(), system: system, newHandler: newHandler, closed: make(chan struct{}), writers: newWriters(0)}
	s.admission = newAdmission(s.cfg)
	if s.cfg.Cluster != nil {
		s.fwd = newForwarder(*s.cfg.Cluster, s.cfg)
		s.sidTag = s.fwd.sessionPrefix()
	}
	s.spawner = system.Root.WithGuardian(sessionStrategy(s.cfg.Logger))
	s.prefix = "engine.io" + system.ProcessRegistry.NextId() + "/"
	s.live.live = make(map[string]*actor.PID)
	s.ws = websocket.New(s.serveWebSocket, websocket.Config{
		// The library connection only does the handshake: frames are
		// read by wsConn and written by the outbox, so its buffers stay
		// small.
		ReadBufferSize:  64,
		WriteBufferSize: 64,
		WriteBufferPool: &sync.Pool{},
	})
	if ps, err := newPollers(pollerCount()); err == nil {
		s.pollers = ps
	} else {
		s.cfg.Logger.Info("websocket poller unavailable, one reader goroutine per connection", slog.Any("err", err))
	}
	system.EventStream.Subscribe(answerDeadLetters)
	return s
}

// Sessions returns the number of open sessions.
func (s *Server) Sessions() int64 { return s.sessions.Load() }

// Mount registers the Engine.IO endpoint at path. WebSockets outlive their
// upgrade handler (a poller reads them), so the app's HTTP server is told to
// keep hijacked connections open.
func (s *Server) Mount(app *fiber.App, path string) {
	app.Server().KeepHijackedConns = true
	app.Get(path, s.serveGet)
	app.Post(path, s.servePost)
	app.All(path, func(c *fiber.Ctx) error { return reply(c, 400, errBadHandshake) })
}

// Shutdown closes every session (each client gets a close packet) and waits,
// bounded by ctx, for their connections to close.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	err := s.stopSessions(ctx)
	if s.fwd != nil {
		s.fwd.close()
	}
	// A request that reached a session's mailbox as it stopped is dropped
	// by the actor runtime; release those waiting handlers now.
	close(s.closed)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.writers.close()
	if s.pollers != nil {
		s.pollers.close()
	}
	return nil
}

func reply(c *fiber.Ctx, status int, body []byte) error {
	if status == 200 {
		c.Set(fiber.HeaderContentType, "text/plain; charset=UTF-8")
	} else {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	}
	return c.Status(status).Send(body)
}

// checkQuery validates EIO and transport; it returns the error body or nil.
func (s *Server) checkQuery(c *fiber.Ctx) (status int, body []byte) {
	if c.Query("EIO") != "4" {
		return 400, errBadVersion
	}
	switch c.Query("transport") {
	case "polling", "websocket":
	default:
		return 400, errTransportUnknown
	}
	if o := c.Get(fiber.HeaderOrigin); o != "" && s.cfg.CheckOrigin != nil && !s.cfg.CheckOrigin(o) {
		return 403, errForbidden
	}
	return 0, nil
}

func (s *Server) serveGet(c *fiber.Ctx) error {
	if status, body := s.checkQuery(c); body != nil {
		return reply(c, status, body)
	}
	sid := c.Query("sid")
	if c.Query("transport") == "websocket" {
		if !websocket.IsWebSocketUpgrade(c) {
			return reply(c, 400, errBadRequest)
		}
		if sid == "" && s.closing.Load() {
			return reply(c, 503, errShuttingDown)
		}
		if sid == "" && !s.admission.check(c, remoteAddr(c), false) {
			return nil
		}
		if sid != "" && s.lookup(sid) == nil {
			if s.fwd != nil && s.fwd.upgradeOrRefuse(c, sid) {
				return nil
			}
			return reply(c, 400, errSessionUnknown)
		}
		c.Locals(localsInfo, &upgradeRequest{info: requestInfo(c, "websocket"), sid: sid})
		stripForUpgrade(c)
		return s.ws(c)
	}
	var pid *actor.PID
	if sid == "" {
		if s.closing.Load() {
			return reply(c, 503, errShuttingDown)
		}
		addr := remoteAddr(c)
		if !s.admission.check(c, addr, true) {
			return nil
		}
		if pid = s.spawn(requestInfo(c, "polling"), nil); pid == nil {
			s.admission.release(addr)
			return reply(c, 500, errBadRequest)
		}
	} else if pid = s.lookup(sid); pid == nil {
		if s.fwd != nil && s.fwd.pollOrRefuse(c, sid) {
			return nil
		}
		return reply(c, 400, errSessionUnknown)
	}
	res := s.call(pid, func(ch chan pollResult) any { return &pollGet{reply: ch} })
	return reply(c, res.status, res.body)
}

func (s *Server) servePost(c *fiber.Ctx) error {
	if status, body := s.checkQuery(c); body != nil {
		return reply(c, status, body)
	}
	sid := c.Query("sid")
	if sid == "" {
		return reply(c, 400, errBadHandshake)
	}
	if c.Query("transport") != "polling" {
		return reply(c, 400, errBadRequest)
	}
	pid := s.lookup(sid)
	if pid == nil {
		if s.fwd != nil && s.fwd.pollOrRefuse(c, sid) {
			return nil
		}
		return reply(c, 400, errSessionUnknown)
	}
	if len(c.Body()) > s.cfg.MaxPayload {
		s.system.Root.Send(pid, &closeSession{reason: ReasonPayloadTooLarge})
		return reply(c, 413, errTooLarge)
	}
	body := append([]byte(nil), c.Body()...)
	res := s.call(pid, func(ch chan pollResult) any { return &pollPost{body: body, reply: ch} })
	return reply(c, res.status, res.body)
}

// call sends a message carrying a reply channel and waits for the answer.
// A session answers every such message, also for a while after it closed;
// one that reaches a session already stopped is answered by
// answerDeadLetters, or dropped by the runtime if it was queued as the actor
// stopped. So the wait also ends when the session has gone from the
// registry.
func (s *Server) call(pid *actor.PID, mk func(chan pollResult) any) pollResult {
	ch := make(chan pollResult, 1)
	s.system.Root.Send(pid, mk(ch))
	return awaitSession(s, pid, ch,
		pollResult{status: 200, body: frameClose.appendPolling(nil)},
		pollResult{status: 400, body: errSessionUnknown})
}

// attach offers a WebSocket to a polling session as its upgrade probe and
// reports whether the session took it.
func (s *Server) attach(pid *actor.PID, conn *wsConn) bool {
	ch := make(chan bool, 1)
	s.system.Root.Send(pid, &wsAttach{conn: conn, reply: ch})
	return awaitSession(s, pid, ch, false, false)
}

// awaitSession waits for a session's answer on ch. It gives onShutdown when
// the server has stopped every session, and onGone once the session has
// left the registry without answering (the runtime dropped the request).
func awaitSession[T any](s *Server, pid *actor.PID, ch <-chan T, onShutdown, onGone T) T {
	gone := time.NewTicker(time.Second)
	defer gone.Stop()
	for {
		select {
		case r := <-ch:
			return r
		case <-s.closed:
			return onShutdown
		case <-gone.C:
			if _, ok := s.system.ProcessRegistry.GetLocal(pid.Id); !ok {
				return onGone
			}
		}
	}
}
func answerDeadLetters(evt any) {
	if dl, ok := evt.(*actor.DeadLetterEvent); ok {
		if r, ok := dl.Message.(replier); ok {
			r.reject()
		}
	}
}

const localsInfo = "queuecast.upgrade"

// upgradeRequest carries what the WebSocket reader needs from the upgrade
// request.
type upgradeRequest struct {
	info *RequestInfo
	sid  string
}

// upgradeHeaders are the request headers the WebSocket handshake reads.
var upgradeHeaders = map[string]bool{
	"Connection": true, "Upgrade": true, "Sec-Websocket-Key": true, "Sec-Websocket-Version": true,
	"Sec-Websocket-Extensions": true, "Sec-Websocket-Protocol": true,
}

// stripForUpgrade drops every query parameter, cookie and header the
// handshake does not read. contrib/websocket copies all of them into maps
// that live as long as the connection; queuecast has already taken what it
// needs (requestInfo), so keeping them would only cost memory per socket.
func stripForUpgrade(c *fiber.Ctx) {
	c.Context().QueryArgs().Reset()
	h := &c.Request().Header
	h.DelAllCookies()
	var drop []string
	h.VisitAll(func(k, _ []byte) {
		if !upgradeHeaders[string(k)] {
			drop = append(drop, string(k))
		}
	})
	for _, k := range drop {
		h.Del(k)
	}
}

func requestInfo(c *fiber.Ctx, transport string) *RequestInfo {
	// Fiber's strings point into the request's buffers, which are reused
	// once the handler returns (at once, for a WebSocket): a session keeps
	// copies.
	return &RequestInfo{
		Transport:  transport,
		RemoteAddr: c.Context().RemoteAddr().String(),
		UserAgent:  strings.Clone(truncate(c.Get(fiber.HeaderUserAgent), 256)),
		Origin:     strings.Clone(truncate(c.Get(fiber.HeaderOrigin), 256)),
		Language:   strings.Clone(truncate(c.Get(fiber.HeaderAcceptLanguage), 64)),
	}
}

func remoteAddr(c *fiber.Ctx) netip.Addr {
	return limits.Addr(c.Context().RemoteAddr().String())
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// serveWebSocket runs once per WebSocket, after the handshake: it starts a
// session (or offers the connection to an existing one for an upgrade) and
// hands the connection to a poller, which reads it from then on; without a
// poller it reads the connection itself until it closes.
func (s *Server) serveWebSocket(c *websocket.Conn) {
	s.conns.Add(1) // done in wsConn.close
	hijacked := c.NetConn()
	raw := hijacked
	if u, ok := raw.(interface{ UnsafeConn() net.Conn }); ok {
		raw = u.UnsafeConn()
	}
	if tc, ok := raw.(*net.TCPConn); ok && s.cfg.SocketSendBuffer > 0 {
		_ = tc.SetWriteBuffer(s.cfg.SocketSendBuffer)
	}
	conn := &wsConn{raw: raw, srv: s}
	if sc, ok := raw.(syscall.Conn); ok {
		conn.rc, _ = sc.SyscallConn()
	}
	defer func() {
		// contrib/websocket recovers a panic here, and the HTTP server
		// keeps hijacked connections open: close this one, or its
		// descriptor and the conns count would leak.
		if r := recover(); r != nil {
			conn.close()
			panic(r)
		}
	}()
	if s.pollers != nil && conn.rc != nil {
		conn.poller = s.pollers.pick()
	} else {
		conn.wake = make(chan struct{}, 1)
	}
	early := buffered(hijacked, raw)
	req, _ := c.Locals(localsInfo).(*upgradeRequest)
	if req == nil {
		req = &upgradeRequest{info: &RequestInfo{Transport: "websocket"}}
	}
	var pid *actor.PID
	if sid := req.sid; sid == "" {
		addr := limits.Addr(req.info.RemoteAddr)
		if err := s.admission.acquire(addr); err != nil {
			// Another handshake from the address took the last place
			// since this one was checked.
			refuse(conn, 1013, "too many connections") // try again later
			return
		}
		if pid = s.spawn(req.info, conn); pid == nil {
			s.admission.release(addr)
			refuse(conn, 1011, "cannot start session")
			return
		}
	} else if pid = s.lookup(sid); pid == nil || !s.attach(pid, conn) {
		refuse(conn, 1008, "upgrade refused")
		return
	}
	conn.pid = pid
	if len(early) > 0 && !conn.feed(early) {
		return
	}
	if !s.startPolled(conn) {
		conn.readLoop()
	}
}

// buffered returns the bytes the HTTP server read past the upgrade request
// (a client that did not wait for the handshake's answer), which the
// hijacked connection would serve before the socket's. Reading with an
// expired deadline returns only those, without touching the socket.
func buffered(hijacked, raw net.Conn) []byte {
	if hijacked == raw {
		return nil
	}
	_ = raw.SetReadDeadline(time.Unix(1, 0))
	defer func() { _ = raw.SetReadDeadline(time.Time{}) }()
	var early []byte
	buf := make([]byte, 512)
	for {
		n, err := hijacked.Read(buf)
		early = append(early, buf[:n]...)
		if err != nil || n == 0 {
			return early
		}
	}
}

// lookup finds a live session by id.
func (s *Server) lookup(sid string) *actor.PID {
	if sid == "" || len(sid) > 64 || strings.ContainsRune(sid, '/') {
		return nil
	}
	id := s.prefix + sid
	if _, ok := s.system.ProcessRegistry.GetLocal(id); !ok {
		return nil
	}
	return actor.NewPID(s.system.Address(), id)
}

func (s *Server) sessionClosed(sess *Session, reason Reason) {
	s.sessions.Add(-1)
	s.admission.release(limits.Addr(sess.info.RemoteAddr))
	s.cfg.Logger.Debug("engine.io session closed", slog.String("sid", sess.id), slog.String("reason", string(reason)))
}

// newSessionID returns 120 random bits, URL-safe: unguessable and never
// reused.
func newSessionID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// pollerCount is the number of WebSocket pollers: one per core, like the
// writer pool.
func pollerCount() int { return runtime.GOMAXPROCS(0) }
