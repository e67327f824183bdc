package transport

import (
	"log/slog"
	"time"

	"github.com/queuecast/queuecast/gateway/limits"
)

// Config tunes the Engine.IO server. The zero value of each field means its
// documented default.
type Config struct {
	// PingInterval is how often the server pings. Zero means 25s.
	PingInterval time.Duration
	// PingTimeout is how long the server waits for a pong. Zero means 20s.
	PingTimeout time.Duration
	// MaxPayload is the largest POST body or WebSocket message accepted
	// (maxHttpBufferSize). Zero means 1,000,000 bytes.
	MaxPayload int
	// UpgradeTimeout bounds the polling-to-WebSocket upgrade. Zero means 10s.
	UpgradeTimeout time.Duration
	// WriteTimeout bounds one WebSocket write; a client that does not read
	// for that long is disconnected as a slow consumer. Zero means 10s.
	WriteTimeout time.Duration
	// MaxQueueBytes bounds the bytes queued for one client; beyond it the
	// client is disconnected as a slow consumer. Zero means 1 MiB.
	MaxQueueBytes int
	// MaxInboundBytes bounds what one WebSocket's reader may have handed
	// its session that the session has not handled yet: the messages'
	// bytes plus 64 per message. Past it the socket is not read until the
	// session is down to half, so TCP pushes back on the client instead of
	// messages piling up in the session's mailbox. Zero means 1 MiB.
	MaxInboundBytes int
	// SocketSendBuffer sets SO_SNDBUF on WebSocket connections. A bounded
	// kernel buffer makes a client that stops reading show up in its outbox
	// (and be cut off) within seconds instead of after megabytes of kernel
	// buffering. Zero means 64 KiB; negative leaves the kernel default
	// (autotuned).
	SocketSendBuffer int
	// ConnRate bounds the new sessions one client address may open (a token
	// bucket; see limits.Addr for what an address is). The zero value is no
	// bound.
	ConnRate limits.Rate
	// MaxConns bounds the open sessions of the server, MaxConnsPerAddr those
	// of one address. Zero or negative is no bound.
	MaxConns, MaxConnsPerAddr int
	// MaxKeys bounds the addresses whose connection rate is tracked. Zero
	// means 65,536.
	MaxKeys int
	// Refusals counts the handshakes refused by the limits above. Nil
	// means a counter of the server's own.
	Refusals *limits.Refusals
	// Cluster makes this transport a cluster node's (session ids carry
	// its tag; other nodes' sessions are forwarded to them); nil on a
	// single node.
	Cluster *ClusterConfig
	// CheckOrigin decides whether a request's Origin header is allowed. An
	// empty origin (non-browser clients) is always allowed. Nil allows all.
	CheckOrigin func(origin string) bool
	// Logger receives lifecycle logs. Nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 1_000_000
	}
	if c.UpgradeTimeout <= 0 {
		c.UpgradeTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = 1 << 20
	}
	if c.MaxInboundBytes <= 0 {
		c.MaxInboundBytes = 1 << 20
	}
	if c.SocketSendBuffer == 0 {
		c.SocketSendBuffer = 64 << 10
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 65_536
	}
	if c.Refusals == nil {
		c.Refusals = new(limits.Refusals)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
