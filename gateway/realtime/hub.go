package realtime

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/actors/clients"
	"github.com/queuecast/queuecast/actors/rooms"
	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/gateway/sio"
	"github.com/queuecast/queuecast/gateway/transport"
)

// Catalog answers whether a service or counter exists.
type Catalog interface {
	ServiceExists(name string) bool
	CounterExists(id string) bool
}

// Config wires the hub.
type Config struct {
	Node      string
	Auth      *auth.Authority
	Catalog   Catalog
	Rooms     *actor.PID // the room manager
	Directory *actor.PID // the client directory
	Logger    *slog.Logger
	// ClientIDBase is added to this node's client sequence: in a cluster
	// the node's tag in the high bits, so client ids are unique across the
	// cluster with no round trip. Zero on a single node (ids 1, 2, ...).
	ClientIDBase int64
	// Total turns this node's connection count into the cluster's (for
	// totalConnected); nil on a single node.
	Total func(local int64) int64
}

// Hub is the main namespace's shared, read-mostly state: configuration and
// two atomic counters. Per-socket state lives in each connection actor.
type Hub struct {
	cfg       Config
	clientSeq atomic.Int64
	connected atomic.Int64
	eventsIn  atomic.Int64
}

// New returns a hub.
func New(cfg Config) *Hub {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Hub{cfg: cfg}
}

// EventsIn returns the number of client events received so far.
func (h *Hub) EventsIn() int64 { return h.eventsIn.Load() }

// Connected returns the number of connected sockets.
func (h *Hub) Connected() int64 { return h.connected.Load() }

// total is the connection count to report for this node's count local.
func (h *Hub) total(local int64) int64 {
	if h.cfg.Total == nil {
		return local
	}
	return h.cfg.Total(local)
}

// Register installs the contract's handlers on ns.
func (h *Hub) Register(ns *sio.Namespace) {
	ns.Authorize = h.authorize
	ns.OnConnect = h.onConnect
	ns.OnDisconnect = h.onDisconnect
	ns.OnReceive = h.onReceive
	on := func(event string, fn sio.EventHandler) {
		ns.On(event, func(s *sio.Socket, ev *sio.Event) {
			h.eventsIn.Add(1)
			fn(s, ev)
		})
	}
	on("joinDashboard", h.joinDashboard)
	on("joinServiceQueue", h.joinServiceQueue)
	on("joinCounter", h.joinCounter)
	on("joinUserRoom", h.joinUserRoom)
	on("leaveRoom", h.leaveRoom)
	on("ping", h.ping)
	on("clientError", h.clientError)
	on("clientInfo", h.clientInfo)
	ns.Fallback = func(s *sio.Socket, ev *sio.Event) {
		h.eventsIn.Add(1)
		fail(s, ev, "unknown event")
	}
	ns.OnRateLimited = func(s *sio.Socket, ev *sio.Event) {
		h.eventsIn.Add(1)
		fail(s, ev, "rate limit exceeded")
	}
}

// errUnauthorized is the CONNECT_ERROR message of the contract.
var errUnauthorized = errors.New("unauthorized")

func (h *Hub) authorize(_ *transport.RequestInfo, raw json.RawMessage) (any, error) {
	var a struct {
		Token any `json:"token"`
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, errUnauthorized
		}
	}
	token := ""
	switch t := a.Token.(type) {
	case nil:
	case string:
		token = t
	default:
		return nil, errUnauthorized
	}
	id, err := h.cfg.Auth.Verify(token)
	if err != nil {
		return nil, errUnauthorized
	}
	return id, nil
}

// conn is the per-socket state, owned by the connection actor.
type conn struct {
	id      auth.Identity
	rec     clients.Record
	rooms   map[string]struct{}
	joining map[string]uint64 // room -> ref of the join in flight
	pending map[uint64][]*sio.Event
	nextRef uint64
	onDash  bool

	errWindow time.Time // clientError log rate limit
	errLogged int
}

func state(s *sio.Socket) *conn { return s.Data.(*conn) }

func (h *Hub) onConnect(s *sio.Socket, _ json.RawMessage) {
	id := s.Data.(auth.Identity)
	info := s.Session().Info()
	c := &conn{
		id:      id,
		rooms:   make(map[string]struct{}, 4),
		joining: make(map[string]uint64),
		pending: make(map[uint64][]*sio.Event),
		rec: clients.Record{
			SocketID:    s.ID(),
			ClientID:    h.cfg.ClientIDBase + h.clientSeq.Add(1),
			ConnectedAt: Now(),
			Node:        h.cfg.Node,
			Transport:   info.Transport,
			Role:        string(id.Role),
			UserID:      id.UserID,
			CounterID:   id.CounterID,
			UserAgent:   info.UserAgent,
			Language:    info.Language,
			Rooms:       []string{},
		},
	}
	s.Data = c
	total := h.connected.Add(1)
	clusterTotal := h.total(total)
	s.Context().Send(h.cfg.Rooms, &rooms.Join{Room: rooms.All, Member: member(s), Quiet: true})
	_ = s.EmitJSON("connected", connectedEvent{
		SocketID:       s.ID(),
		ClientID:       c.rec.ClientID,
		ConnectedAt:    c.rec.ConnectedAt,
		Node:           h.cfg.Node,
		TotalConnected: clusterTotal,
	})
	h.publishRecord(s, c)
	h.cfg.Logger.Info("socket connected", slog.String("sid", s.ID()), slog.Int64("client", c.rec.ClientID),
		slog.String("role", c.rec.Role), slog.String("transport", info.Transport), slog.Int64("total", total))
}

func (h *Hub) onDisconnect(s *sio.Socket, reason string) {
	c, ok := s.Data.(*conn)
	if !ok {
		return
	}
	ctx := s.Context()
	names := make([]string, 0, len(c.rooms)+1)
	names = append(names, rooms.All)
	for r := range c.rooms {
		names = append(names, r)
	}
	ctx.Send(h.cfg.Rooms, &rooms.LeaveAll{SocketID: s.ID(), Rooms: names})
	remaining := h.connected.Add(-1)
	if c.onDash {
		h.publish(ctx, []string{rooms.Dashboard}, "", "staffConnectionUpdate", staffUpdate{
			Action: "disconnected", ClientID: c.rec.ClientID, UserID: c.id.UserID, UserRole: string(c.id.Role),
			Reason: reason, Timestamp: Now(), TotalConnected: h.total(remaining),
		})
	}
	ctx.Send(h.cfg.Directory, &clients.Remove{SocketID: s.ID()})
	h.cfg.Logger.Info("socket disconnected", slog.String("sid", s.ID()), slog.Int64("client", c.rec.ClientID),
		slog.String("reason", reason), slog.Int64("remaining", remaining))
}

func member(s *sio.Socket) rooms.Member {
	return rooms.Member{SocketID: s.ID(), PID: s.Context().Self(), Outbox: s.Outbox()}
}

// publish sends an event to rooms through the room manager.
func (h *Hub) publish(ctx actor.Context, to []string, except, event string, data any) {
	b, err := rooms.NewBroadcast(event, data)
	if err != nil {
		h.cfg.Logger.Error("encode broadcast", slog.String("event", event), slog.Any("err", err))
		return
	}
	ctx.Send(h.cfg.Rooms, &rooms.Publish{Rooms: to, Except: except, Broadcast: b})
}

func (h *Hub) publishRecord(s *sio.Socket, c *conn) {
	rec := c.rec
	rec.Rooms = make([]string, 0, len(c.rooms))
	for r := range c.rooms {
		rec.Rooms = append(rec.Rooms, r)
	}
	s.Context().Send(h.cfg.Directory, &clients.Put{Record: rec})
}

// join asks the room manager to add the socket; the ack goes out when the
// room answers (see onReceive).
func (h *Hub) join(s *sio.Socket, ev *sio.Event, room string, announce *rooms.Broadcast, toSelf bool) {
	c := state(s)
	if _, ok := c.rooms[room]; ok {
		if ref, inFlight := c.joining[room]; inFlight {
			// Acked with the first one, once the join is in effect.
			c.pending[ref] = append(c.pending[ref], ev)
			return
		}
		ackOK(s, ev, room)
		return
	}
	if len(c.rooms) >= maxRoomsPerSocket {
		fail(s, ev, "too many rooms: leave one first")
		return
	}
	c.rooms[room] = struct{}{}
	c.nextRef++
	c.joining[room] = c.nextRef
	c.pending[c.nextRef] = []*sio.Event{ev}
	s.Context().Send(h.cfg.Rooms, &rooms.Join{Room: room, Member: member(s), Announce: announce, AnnounceToSelf: toSelf, Ref: c.nextRef})
}

func (h *Hub) onReceive(s *sio.Socket, msg any) {
	c := state(s)
	switch m := msg.(type) {
	case *rooms.Joined:
		evs := c.pending[m.Ref]
		delete(c.pending, m.Ref)
		if c.joining[m.Room] == m.Ref {
			delete(c.joining, m.Room)
		}
		h.publishRecord(s, c)
		h.cfg.Logger.Info("room joined", slog.String("sid", s.ID()), slog.Int64("client", c.rec.ClientID),
			slog.String("room", m.Room), slog.Int("members", m.Size), slog.Int("rooms", len(c.rooms)))
		for _, ev := range evs {
			ackOK(s, ev, m.Room)
		}
	case *rooms.Left:
		evs := c.pending[m.Ref]
		delete(c.pending, m.Ref)
		h.publishRecord(s, c)
		h.cfg.Logger.Info("room left", slog.String("sid", s.ID()), slog.String("room", m.Room), slog.Int("members", m.Size))
		for _, ev := range evs {
			ackOK(s, ev, m.Room)
		}
	case *transport.Upgraded:
		c.rec.Transport = s.Session().Transport()
		h.publishRecord(s, c)
	}
}

// validRoomName reports whether a client may name room.
func validRoomName(room string) bool {
	return room != rooms.All && len(room) <= maxID+len(rooms.ServicePrefix) && !strings.ContainsFunc(room, isControl)
}
