package transport

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Owners finds the live node that owns the sessions of a tag.
type Owners interface {
	// Owner returns the host:port of the HTTP listener of the node whose
	// tag is tag; false when no live node has it.
	Owner(tag uint32) (httpAddr string, ok bool)
}

// ClusterConfig makes a transport one of a cluster's: its session ids carry
// its tag, and a request for a session of another node is served by that
// node, as if it had come there (no sticky sessions at the load balancer).
type ClusterConfig struct {
	// Tag is this node's tag, the prefix of its session ids.
	Tag uint32
	// Owners maps another tag to its node.
	Owners Owners
	// Secret signs the hop header of a forwarded request; every node has
	// the same. Required.
	Secret []byte
	// Timeout bounds a forwarded polling request. Default: PingInterval +
	// PingTimeout + 10s, longer than a held GET.
	Timeout time.Duration
}

// hopHeader marks a request one node forwards to another:
// "<unix seconds>.<base64url HMAC-SHA256 of method, URI and time>".
const hopHeader = "X-Queuecast-Hop"

// dialTimeout bounds a connection to another node: they are on one
// network, so a node that does not accept within it is taken as gone.
const dialTimeout = time.Second

// hopSkew is how far a hop header's time may be from this node's clock.
const hopSkew = time.Minute

// errForwardForged answers a hop header this cluster did not sign.
var errForwardForged = []byte(`{"code":4,"message":"Forbidden"}`)

// forwarder sends the polling requests and WebSocket upgrades of other
// nodes' sessions to their owners over HTTP: never over the node-to-node
// stream that carries broadcasts, so a 1 MB polling body cannot delay one.
type forwarder struct {
	cfg     ClusterConfig
	key     []byte
	client  *fasthttp.Client
	log     *slog.Logger
	polling atomic.Int64 // polling requests forwarded
	upgrade atomic.Int64 // WebSocket upgrades relayed

	mu     sync.Mutex
	relays map[net.Conn]struct{} // client side of each open relay
	closed bool
}

func newForwarder(cfg ClusterConfig, t Config) *forwarder {
	if cfg.Timeout <= 0 {
		cfg.Timeout = t.PingInterval + t.PingTimeout + 10*time.Second
	}
	mac := hmac.New(sha256.New, cfg.Secret)
	mac.Write([]byte("queuecast forwarded request v1"))
	return &forwarder{cfg: cfg, key: mac.Sum(nil), log: t.Logger, relays: make(map[net.Conn]struct{}), client: &fasthttp.Client{
		Dial:                          func(addr string) (net.Conn, error) { return fasthttp.DialTimeout(addr, dialTimeout) },
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		MaxConnsPerHost:               1 << 16, // one per held GET
		MaxIdleConnDuration:           30 * time.Second,
		ReadTimeout:                   cfg.Timeout,
		WriteTimeout:                  cfg.Timeout,
		MaxResponseBodySize:           t.MaxPayload + 1<<20,
	}}
}

// sessionPrefix is the prefix of this node's session ids.
func (f *forwarder) sessionPrefix() string {
	return strconv.FormatUint(uint64(f.cfg.Tag), 36) + "."
}

// owner returns the HTTP address of the live node that owns sid; false if
// sid is this node's or names no live node.
func (f *forwarder) owner(sid string) (string, bool) {
	i := strings.IndexByte(sid, '.')
	if i <= 0 {
		return "", false
	}
	tag, err := strconv.ParseUint(sid[:i], 36, 32)
	if err != nil || uint32(tag) == f.cfg.Tag {
		return "", false
	}
	return f.cfg.Owners.Owner(uint32(tag))
}

func (f *forwarder) sign(method, uri []byte, at int64) string {
	mac := hmac.New(sha256.New, f.key)
	mac.Write(method)
	mac.Write([]byte{'\n'})
	mac.Write(uri)
	mac.Write([]byte{'\n'})
	mac.Write(strconv.AppendInt(nil, at, 10))
	return strconv.FormatInt(at, 10) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// verify checks a hop header.
func (f *forwarder) verify(c *fiber.Ctx, hop string) bool {
	i := strings.IndexByte(hop, '.')
	if i <= 0 {
		return false
	}
	at, err := strconv.ParseInt(hop[:i], 10, 64)
	if err != nil {
		return false
	}
	if d := time.Since(time.Unix(at, 0)); d > hopSkew || d < -hopSkew {
		return false
	}
	want := f.sign(c.Request().Header.Method(), c.Request().RequestURI(), at)
	return hmac.Equal([]byte(want), []byte(hop))
}

// pollOrRefuse serves a polling request for a session this node does not
// have by forwarding it to the session's owner, and reports whether it
// answered c; false leaves the answer ("Session ID unknown") to the
// caller: no live node owns the session, or c was forwarded here already
// (a request is forwarded once at most). A forged hop header is 403.
func (f *forwarder) pollOrRefuse(c *fiber.Ctx, sid string) bool {
	if hop := c.Get(hopHeader); hop != "" {
		if !f.verify(c, hop) {
			_ = reply(c, 403, errForwardForged)
			return true
		}
		return false // forwarded here, yet the session is gone: never forward twice
	}
	owner, ok := f.owner(sid)
	if !ok {
		return false
	}
	f.polling.Add(1)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	c.Request().CopyTo(req)
	uri := append([]byte(nil), c.Request().RequestURI()...)
	req.SetRequestURI("http://" + owner + string(uri))
	req.Header.SetHost(owner)
	req.Header.Set(hopHeader, f.sign(req.Header.Method(), uri, time.Now().Unix()))
	if err := f.client.DoTimeout(req, resp, f.cfg.Timeout); err != nil {
		f.log.Debug("forward polling request", slog.String("sid", sid), slog.String("owner", owner), slog.Any("err", err))
		_ = reply(c, 400, errSessionUnknown) // the owner is gone: the client reconnects
		return true
	}
	c.Status(resp.StatusCode())
	c.Set(fiber.HeaderContentType, string(resp.Header.ContentType()))
	_ = c.Send(append([]byte(nil), resp.Body()...))
	return true
}

// upgradeOrRefuse relays a WebSocket upgrade of another node's session to
// that node at the TCP level: the owner answers the handshake and speaks
// WebSocket with the client through this node.
func (f *forwarder) upgradeOrRefuse(c *fiber.Ctx, sid string) bool {
	if hop := c.Get(hopHeader); hop != "" {
		if !f.verify(c, hop) {
			_ = reply(c, 403, errForwardForged)
			return true
		}
		return false
	}
	owner, ok := f.owner(sid)
	if !ok {
		return false
	}
	f.upgrade.Add(1)
	h := &c.Request().Header
	h.Set(hopHeader, f.sign(h.Method(), c.Request().RequestURI(), time.Now().Unix()))
	head := append([]byte(nil), h.Header()...)
	c.Context().HijackSetNoResponse(true)
	c.Context().Hijack(func(conn net.Conn) {
		defer conn.Close()
		if !f.track(conn) {
			return
		}
		defer f.untrack(conn)
		up, err := net.DialTimeout("tcp", owner, dialTimeout)
		if err != nil {
			_, _ = conn.Write(rawReply(400, errSessionUnknown))
			return
		}
		defer up.Close()
		if _, err := up.Write(head); err != nil {
			return
		}
		done := make(chan struct{}, 2)
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			} else {
				_ = dst.Close()
			}
			done <- struct{}{}
		}
		go pipe(up, conn)
		go pipe(conn, up)
		<-done
		// One side ended: the other ends with it.
		_ = conn.Close()
		_ = up.Close()
		<-done
	})
	return true
}

// track records an open relay; false once the transport is shut down.
func (f *forwarder) track(conn net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.relays[conn] = struct{}{}
	return true
}

func (f *forwarder) untrack(conn net.Conn) {
	f.mu.Lock()
	delete(f.relays, conn)
	f.mu.Unlock()
}

// close ends every open relay: the node is shutting down, and its
// clients reconnect to another node.
func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for conn := range f.relays {
		_ = conn.Close()
	}
}

func rawReply(status int, body []byte) []byte {
	return []byte("HTTP/1.1 " + strconv.Itoa(status) + " " + fasthttp.StatusMessage(status) + "\r\n" +
		"Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + string(body))
}

// Forwarded returns the polling requests and the WebSocket upgrades this
// node forwarded to their sessions' owners.
func (s *Server) Forwarded() (polling, upgrades int64) {
	if s.fwd == nil {
		return 0, 0
	}
	return s.fwd.polling.Load(), s.fwd.upgrade.Load()
}
