package realtime

import (
	"log/slog"
	"time"

	"github.com/queuecast/queuecast/actors/rooms"
	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/gateway/sio"
)

// Payloads of the server-to-client events.
type (
	connectedEvent struct {
		SocketID       string `json:"socketId"`
		ClientID       int64  `json:"clientId"`
		ConnectedAt    string `json:"connectedAt"`
		Node           string `json:"node"`
		TotalConnected int64  `json:"totalConnected"`
	}
	staffUpdate struct {
		Action         string `json:"action"`
		ClientID       int64  `json:"clientId"`
		UserID         string `json:"userId"`
		UserRole       string `json:"userRole"`
		Reason         string `json:"reason,omitempty"`
		Timestamp      string `json:"timestamp"`
		TotalConnected int64  `json:"totalConnected"`
	}
	queueUserJoined struct {
		ServiceType string `json:"serviceType"`
		ClientID    int64  `json:"clientId"`
		Timestamp   string `json:"timestamp"`
	}
	pong struct {
		Pong       bool   `json:"pong"`
		Timestamp  string `json:"timestamp"`
		ServerTime int64  `json:"serverTime"`
	}
)

// Limits on client input.
const (
	maxID         = 64
	maxMessage    = 1000
	maxStack      = 4000
	maxInfoString = 256
	// maxRoomsPerSocket bounds the rooms one socket may be in.
	maxRoomsPerSocket = 64
	// clientErrorLogs is how many clientError reports one socket may log
	// per minute; more are acked but not logged.
	clientErrorLogs = 10
)

func (h *Hub) joinDashboard(s *sio.Socket, ev *sio.Event) {
	c := state(s)
	in, err := object(ev)
	if err == nil {
		_, err = in.str("userRole", false, maxID)
	}
	if err == nil {
		_, err = in.str("userId", false, maxID)
	}
	if err != nil {
		fail(s, ev, err.Error())
		return
	}
	if !c.id.Role.IsStaff() {
		fail(s, ev, "forbidden: the dashboard is for staff and admins")
		return
	}
	if _, ok := c.rooms[rooms.Dashboard]; ok {
		ackOK(s, ev, rooms.Dashboard)
		return
	}
	c.onDash = true
	b, _ := rooms.NewBroadcast("staffConnectionUpdate", staffUpdate{
		Action: "connected", ClientID: c.rec.ClientID, UserID: c.id.UserID, UserRole: string(c.id.Role),
		Timestamp: Now(), TotalConnected: h.total(h.connected.Load()),
	})
	h.join(s, ev, rooms.Dashboard, b, true)
}

func (h *Hub) joinServiceQueue(s *sio.Socket, ev *sio.Event) {
	c := state(s)
	in, err := object(ev)
	var service string
	if err == nil {
		service, err = in.str("serviceType", true, maxID)
	}
	if err != nil {
		fail(s, ev, err.Error())
		return
	}
	if !h.cfg.Catalog.ServiceExists(service) {
		fail(s, ev, "unknown service: "+service)
		return
	}
	c.rec.ServiceType = service
	b, _ := rooms.NewBroadcast("queueUserJoined", queueUserJoined{ServiceType: service, ClientID: c.rec.ClientID, Timestamp: Now()})
	h.join(s, ev, rooms.Service(service), b, false)
}

func (h *Hub) joinCounter(s *sio.Socket, ev *sio.Event) {
	c := state(s)
	in, err := object(ev)
	var counter string
	if err == nil {
		counter, err = in.str("counterId", true, maxID)
	}
	if err != nil {
		fail(s, ev, err.Error())
		return
	}
	switch {
	case !c.id.Role.IsStaff():
		fail(s, ev, "forbidden: counters are for staff and admins")
	case c.id.Role == auth.RoleStaff && c.id.CounterID != "" && c.id.CounterID != counter:
		fail(s, ev, "forbidden: your token is for counter "+c.id.CounterID)
	case !h.cfg.Catalog.CounterExists(counter):
		fail(s, ev, "unknown counter: "+counter)
	default:
		c.rec.CounterID = counter
		h.join(s, ev, rooms.Counter(counter), nil, false)
	}
}

func (h *Hub) joinUserRoom(s *sio.Socket, ev *sio.Event) {
	c := state(s)
	in, err := object(ev)
	var user string
	if err == nil {
		user, err = in.str("userId", true, maxID)
	}
	if err != nil {
		fail(s, ev, err.Error())
		return
	}
	if user != c.id.UserID && !c.id.Role.IsStaff() {
		fail(s, ev, "forbidden: not your user room")
		return
	}
	h.join(s, ev, rooms.User(user), nil, false)
}

func (h *Hub) leaveRoom(s *sio.Socket, ev *sio.Event) {
	c := state(s)
	in, err := object(ev)
	var room string
	if err == nil {
		room, err = in.str("room", true, maxID+len(rooms.ServicePrefix))
	}
	if err != nil {
		fail(s, ev, err.Error())
		return
	}
	if _, ok := c.rooms[room]; !ok || !validRoomName(room) {
		fail(s, ev, "not a member of room "+room)
		return
	}
	delete(c.rooms, room)
	if room == rooms.Dashboard {
		c.onDash = false
	}
	c.nextRef++
	c.pending[c.nextRef] = []*sio.Event{ev}
	s.Context().Send(h.cfg.Rooms, &rooms.Leave{Room: room, SocketID: s.ID(), ReplyTo: s.Context().Self(), Ref: c.nextRef})
}

func (h *Hub) ping(s *sio.Socket, ev *sio.Event) {
	now := time.Now()
	s.AckJSON(ev, pong{Pong: true, Timestamp: Timestamp(now), ServerTime: now.UnixMilli()})
}

func (h *Hub) clientError(s *sio.Socket, ev *sio.Event) {
	c := state(s)
	in, err := object(ev)
	var msg, stack string
	if err == nil {
		msg, err = in.text("message", maxMessage)
	}
	if err == nil {
		stack, err = in.text("stack", maxStack)
	}
	if err != nil {
		fail(s, ev, err.Error())
		return
	}
	now := time.Now()
	if now.Sub(c.errWindow) > time.Minute {
		if c.errLogged > clientErrorLogs {
			h.cfg.Logger.Warn("client errors not logged", slog.String("sid", s.ID()), slog.Int("count", c.errLogged-clientErrorLogs))
		}
		c.errWindow, c.errLogged = now, 0
	}
	if c.errLogged++; c.errLogged <= clientErrorLogs {
		h.cfg.Logger.Warn("client error", slog.String("sid", s.ID()), slog.Int64("client", c.rec.ClientID),
			slog.String("message", msg), slog.String("stack", stack))
	}
	s.AckJSON(ev, okAck{Success: true})
}

func (h *Hub) clientInfo(s *sio.Socket, ev *sio.Event) {
	c := state(s)
	in, err := object(ev)
	var ua, lang, tz string
	if err == nil {
		ua, err = in.text("userAgent", maxInfoString)
	}
	if err == nil {
		lang, err = in.text("language", maxInfoString)
	}
	if err == nil {
		tz, err = in.text("timezone", maxInfoString)
	}
	if err != nil {
		fail(s, ev, err.Error())
		return
	}
	if ua != "" {
		c.rec.UserAgent = ua
	}
	if lang != "" {
		c.rec.Language = lang
	}
	if tz != "" {
		c.rec.Timezone = tz
	}
	h.publishRecord(s, c)
	s.AckJSON(ev, okAck{Success: true})
}
