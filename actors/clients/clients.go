// Package clients keeps the directory of connected sockets on this node.
//
// Each connection actor owns its client record and sends the directory a
// copy whenever the record changes; the directory actor owns those copies
// and answers the admin API. Nothing here is on the message hot path.
//
// The directory runs under its parent's strategy (the root guardian's:
// OneForOne, restart, at most 10 in 10 s). Its records survive a restart:
// every incarnation is the same *directory, so the admin API still lists
// every socket afterwards. It starts no goroutine or timer.
package clients

import (
	"fmt"
	"log/slog"
	"sort"

	"github.com/asynkron/protoactor-go/actor"
)

// Record describes one connected socket.
type Record struct {
	SocketID    string   `json:"socketId"`
	ClientID    int64    `json:"clientId"`
	ConnectedAt string   `json:"connectedAt"` // RFC 3339 with milliseconds
	Node        string   `json:"node"`
	Transport   string   `json:"transport"`
	Rooms       []string `json:"rooms"`
	Role        string   `json:"role"`
	UserID      string   `json:"userId,omitempty"`
	CounterID   string   `json:"counterId,omitempty"`
	ServiceType string   `json:"serviceType,omitempty"`
	UserAgent   string   `json:"userAgent,omitempty"`
	Language    string   `json:"language,omitempty"`
	Timezone    string   `json:"timezone,omitempty"`
}

// Put stores or replaces a socket's record.
type Put struct{ Record Record }

// Remove forgets a socket.
type Remove struct{ SocketID string }

// List asks for every record, ordered by client id.
type List struct{ Reply chan<- []Record }

// Get asks for one record; the reply is nil when the socket is unknown.
type Get struct {
	SocketID string
	Reply    chan<- *Record
}

type directory struct {
	records map[string]Record
	log     *slog.Logger
}

// Fail makes the directory panic once (for tests of supervision).
type Fail struct{}

// NewDirectoryProps returns the props of the client directory.
func NewDirectoryProps(log *slog.Logger) *actor.Props {
	d := &directory{records: make(map[string]Record), log: log}
	return actor.PropsFromProducer(func() actor.Actor { return d })
}

func (d *directory) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
	case *Put:
		d.records[m.Record.SocketID] = m.Record
	case *Remove:
		delete(d.records, m.SocketID)
	case *List:
		m.Reply <- d.list()
	case *Get:
		d.get(m)
	case *Fail:
		panic("client directory: failure requested")
	default:
		d.log.Warn("client directory: unknown message", slog.String("type", fmt.Sprintf("%T", m)))
	}
}

func (d *directory) list() []Record {
	out := make([]Record, 0, len(d.records))
	for _, r := range d.records {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClientID < out[j].ClientID })
	return out
}

func (d *directory) get(m *Get) {
	if r, ok := d.records[m.SocketID]; ok {
		m.Reply <- &r
		return
	}
	m.Reply <- nil
}
