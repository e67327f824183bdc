package queue

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/actors/rooms"
	"github.com/queuecast/queuecast/persistence"
)

// Event names.
const (
	EventTicketCreated       = "ticketCreated"
	EventTicketServing       = "ticketServing"
	EventTicketCompleted     = "ticketCompleted"
	EventTicketNoShow        = "ticketNoShow"
	EventTicketRecalled      = "ticketRecalled"
	EventTicketTransferred   = "ticketTransferred"
	EventTicketCancelled     = "ticketCancelled"
	EventTicketExpired       = "ticketExpired"
	EventCounterStatusChange = "counterStatusChange"
	EventQueueUpdated        = "queueUpdated"
)

type ticketEvent struct {
	Ticket    persistence.Ticket   `json:"ticket"`
	Counter   *persistence.Counter `json:"counter,omitempty"`
	Timestamp string               `json:"timestamp"`
}

type counterEvent struct {
	Counter        persistence.Counter       `json:"counter"`
	PreviousStatus persistence.CounterStatus `json:"previousStatus"`
	Timestamp      string                    `json:"timestamp"`
}

type queueEvent struct {
	ServiceType          string `json:"serviceType"`
	Waiting              int    `json:"waiting"`
	Serving              int    `json:"serving"`
	EstimatedWaitSeconds *int   `json:"estimatedWaitSeconds"`
	Timestamp            string `json:"timestamp"`
}

// announcer publishes committed changes to rooms, once per socket.
type announcer struct {
	sys   *actor.ActorSystem
	rooms *actor.PID
	log   *slog.Logger
	now   func() time.Time
}

func (a *announcer) stamp() string { return persistence.NewTimestamp(a.now()).String() }

func (a *announcer) publish(event string, payload any, to ...string) {
	if a.rooms == nil {
		return
	}
	b, err := rooms.NewBroadcast(event, payload)
	if err != nil {
		a.log.Error("encode event", slog.String("event", event), slog.Any("err", err))
		return
	}
	a.sys.Root.Send(a.rooms, &rooms.Publish{Rooms: to, Broadcast: b})
}

// ticket announces a ticket event to its service room(s), the dashboard and
// its owner's room.
func (a *announcer) ticket(event string, t persistence.Ticket, c *persistence.Counter, extraRooms ...string) {
	to := append([]string{rooms.Service(t.ServiceType), rooms.Dashboard}, extraRooms...)
	if t.UserID != nil && *t.UserID != "" {
		to = append(to, rooms.User(*t.UserID))
	}
	a.publish(event, ticketEvent{Ticket: t, Counter: c, Timestamp: a.stamp()}, to...)
}

func (a *announcer) counter(c persistence.Counter, prev persistence.CounterStatus) {
	a.publish(EventCounterStatusChange, counterEvent{Counter: c, PreviousStatus: prev, Timestamp: a.stamp()},
		rooms.Counter(c.ID), rooms.Dashboard)
}

func (a *announcer) queue(s State) {
	a.publish(EventQueueUpdated, queueEvent{
		ServiceType: s.ServiceType, Waiting: s.Waiting, Serving: s.Serving,
		EstimatedWaitSeconds: s.EstimatedWaitSeconds, Timestamp: a.stamp(),
	}, rooms.Service(s.ServiceType), rooms.Dashboard)
}
