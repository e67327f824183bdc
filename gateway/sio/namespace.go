package sio

import (
	"encoding/json"
	"time"

	"github.com/queuecast/queuecast/gateway/limits"
	"github.com/queuecast/queuecast/gateway/transport"
)

// Event is one event received from a client.
type Event struct {
	Name    string
	Args    []json.RawMessage // the arguments after the name, raw JSON
	Buffers [][]byte          // binary attachments, referenced by placeholders in Args
	ID      int64             // ack id, socketio.NoID when the client wants no ack
}

// WantsAck reports whether the client waits for an acknowledgement.
func (e *Event) WantsAck() bool { return e.ID >= 0 }

// EventHandler handles one event on a socket.
type EventHandler func(s *Socket, ev *Event)

// Namespace is a Socket.IO namespace and its handlers. Set the fields before
// the server accepts connections; they are read concurrently afterwards.
type Namespace struct {
	Name string
	// Authorize decides a CONNECT from the request and the auth payload (nil
	// when absent). A non-nil error refuses it with CONNECT_ERROR carrying
	// the error's text; the returned value is kept as Socket.Data.
	Authorize func(info *transport.RequestInfo, auth json.RawMessage) (any, error)
	// OnConnect runs after the CONNECT reply was queued.
	OnConnect func(s *Socket, auth json.RawMessage)
	// OnDisconnect runs once when the socket leaves, for any reason.
	OnDisconnect func(s *Socket, reason string)
	// OnReceive gets actor messages addressed to this socket (see Targeted).
	OnReceive func(s *Socket, msg any)
	// Fallback handles events with no handler. Nil ignores them.
	Fallback EventHandler
	// OnRateLimited answers an event refused by the connection's event rate
	// limit (Config.EventRate), typically with a failure ack. Nil drops it.
	OnRateLimited EventHandler

	events map[string]EventHandler
}

// On registers the handler of an event.
func (n *Namespace) On(event string, h EventHandler) {
	if n.events == nil {
		n.events = make(map[string]EventHandler)
	}
	n.events[event] = h
}

// Targeted is an actor message for one socket of a connection.
type Targeted interface {
	TargetSocket() string
}

// Config tunes the Socket.IO server.
type Config struct {
	// ConnectTimeout closes a connection that has not connected to any
	// namespace in that time. Zero means 45s.
	ConnectTimeout time.Duration
	// MaxPacketBytes bounds the attachments of a binary event or ack
	// together; more closes the connection as too large. Zero means no
	// bound beyond the transport's per-message limit.
	MaxPacketBytes int
	// EventRate bounds the packets (events, acks, namespace connects) one
	// connection may send: a token bucket per connection. Over it an event
	// goes to its namespace's OnRateLimited and other packets are dropped.
	// The zero value is no bound.
	EventRate limits.Rate
	// EventDebt is how many refused packets a connection may run up before
	// it is closed with transport.ReasonRateLimited (see limits.Events).
	// Zero means 1.
	EventDebt int
	// Refusals counts the packets refused and the connections closed by
	// the event limit. Nil means a counter of the server's own.
	Refusals *limits.Refusals
}

// Server is a set of namespaces; NewHandler plugs it into a transport.
type Server struct {
	cfg        Config
	namespaces map[string]*Namespace
}

// NewServer returns a server with no namespaces.
func NewServer(cfg Config) *Server {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 45 * time.Second
	}
	if cfg.Refusals == nil {
		cfg.Refusals = new(limits.Refusals)
	}
	return &Server{cfg: cfg, namespaces: make(map[string]*Namespace)}
}

// Of returns the namespace called name, creating it.
func (s *Server) Of(name string) *Namespace {
	if n, ok := s.namespaces[name]; ok {
		return n
	}
	n := &Namespace{Name: name}
	s.namespaces[name] = n
	return n
}

// NewHandler returns the transport handler of one new connection.
func (s *Server) NewHandler(info *transport.RequestInfo) transport.Handler {
	c := &client{srv: s, sockets: make(map[string]*Socket, 1)}
	c.dec.MaxBytes = s.cfg.MaxPacketBytes
	c.events = limits.NewEvents(s.cfg.EventRate, s.cfg.EventDebt)
	return c
}
