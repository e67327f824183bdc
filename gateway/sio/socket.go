package sio

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/actors/rooms"
	"github.com/queuecast/queuecast/gateway/socketio"
	"github.com/queuecast/queuecast/gateway/transport"
)

// AckFunc receives the arguments of a client's acknowledgement.
type AckFunc func(args []json.RawMessage, buffers [][]byte)

// Socket is one client connected to one namespace.
type Socket struct {
	id        string
	client    *client
	nsp       *Namespace
	out       *roomOutbox
	connected bool
	nextAck   int64
	acks      map[int64]AckFunc

	// Data is the value Authorize returned; handlers may replace it.
	Data any
}

func newSocket(c *client, ns *Namespace, data any) *Socket {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return &Socket{
		id:        base64.RawURLEncoding.EncodeToString(b[:]),
		client:    c,
		nsp:       ns,
		out:       &roomOutbox{out: c.sess.Outbox()},
		connected: true,
		Data:      data,
	}
}

// ID returns the Socket.IO socket id (not the Engine.IO session id).
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace name.
func (s *Socket) Namespace() string { return s.nsp.Name }

// Connected reports whether the socket is still connected.
func (s *Socket) Connected() bool { return s.connected }

// Session returns the Engine.IO session the socket rides on.
func (s *Socket) Session() *transport.Session { return s.client.sess }

// Context returns the actor context of the message being handled.
func (s *Socket) Context() actor.Context { return s.client.sess.Context() }

// Outbox returns the socket's receiver of room broadcasts.
func (s *Socket) Outbox() rooms.Outbox { return s.out }

func (s *Socket) send(p *socketio.Packet) bool { return s.client.push(p) }

// Emit sends an event whose arguments are already JSON-encoded.
func (s *Socket) Emit(event string, args ...json.RawMessage) bool {
	return s.send(&socketio.Packet{Type: socketio.Event, Namespace: s.nsp.Name, ID: socketio.NoID, Data: socketio.AppendEventData(nil, event, args...)})
}

// EmitJSON sends an event with one argument, v encoded as JSON.
func (s *Socket) EmitJSON(event string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.Emit(event, raw)
	return nil
}

// EmitBinary sends an event whose arguments reference buffers through
// placeholders.
func (s *Socket) EmitBinary(event string, args []json.RawMessage, buffers [][]byte) bool {
	t := socketio.Event
	if len(buffers) > 0 {
		t = socketio.BinaryEvent
	}
	return s.send(&socketio.Packet{Type: t, Namespace: s.nsp.Name, ID: socketio.NoID, Data: socketio.AppendEventData(nil, event, args...), Buffers: buffers})
}

// EmitWithAck sends an event and calls cb with the client's answer.
func (s *Socket) EmitWithAck(event string, cb AckFunc, args ...json.RawMessage) bool {
	id := s.nextAck
	s.nextAck++
	if s.acks == nil {
		s.acks = make(map[int64]AckFunc)
	}
	s.acks[id] = cb
	return s.send(&socketio.Packet{Type: socketio.Event, Namespace: s.nsp.Name, ID: id, Data: socketio.AppendEventData(nil, event, args...)})
}

// Ack answers an event that asked for it; without an ack id it does nothing.
func (s *Socket) Ack(ev *Event, args ...json.RawMessage) bool {
	return s.AckBinary(ev, args, nil)
}

// AckJSON answers an event with one argument, v encoded as JSON.
func (s *Socket) AckJSON(ev *Event, v any) {
	if !ev.WantsAck() {
		return
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return
	}
	s.Ack(ev, raw)
}

// AckBinary answers an event with arguments that reference buffers.
func (s *Socket) AckBinary(ev *Event, args []json.RawMessage, buffers [][]byte) bool {
	if !ev.WantsAck() {
		return false
	}
	t := socketio.Ack
	if len(buffers) > 0 {
		t = socketio.BinaryAck
	}
	return s.send(&socketio.Packet{Type: t, Namespace: s.nsp.Name, ID: ev.ID, Data: socketio.AppendArrayData(nil, args...), Buffers: buffers})
}

// Disconnect removes the socket from its namespace and tells the client
// (which will not reconnect by itself).
func (s *Socket) Disconnect() {
	if !s.connected {
		return
	}
	s.send(&socketio.Packet{Type: socketio.Disconnect, Namespace: s.nsp.Name, ID: socketio.NoID})
	s.client.remove(s, "server namespace disconnect")
}

func (s *Socket) onEvent(p *socketio.Packet) {
	name, args, err := socketio.SplitEvent(p.Data)
	if err != nil {
		s.client.sess.Close(transport.ReasonParseError)
		return
	}
	ev := &Event{Name: name, Args: args, Buffers: p.Buffers, ID: p.ID}
	if h, ok := s.nsp.events[name]; ok {
		h(s, ev)
	} else if s.nsp.Fallback != nil {
		s.nsp.Fallback(s, ev)
	}
}

func (s *Socket) onAck(p *socketio.Packet) {
	cb, ok := s.acks[p.ID]
	if !ok {
		return
	}
	delete(s.acks, p.ID)
	var args []json.RawMessage
	if err := json.Unmarshal(p.Data, &args); err != nil {
		return
	}
	cb(args, p.Buffers)
}

// roomOutbox lets rooms deliver broadcasts to this socket: the broadcast is
// encoded into one frame on first use and the frame is shared.
type roomOutbox struct{ out *transport.Outbox }

func (o *roomOutbox) Deliver(b *rooms.Broadcast) bool {
	return o.out.Push(b.Wire(encodeBroadcast).(*transport.Frame))
}

func encodeBroadcast(b *rooms.Broadcast) any {
	var args []json.RawMessage
	if b.Data != nil {
		args = []json.RawMessage{b.Data}
	}
	data := socketio.AppendEventData(nil, b.Event, args...)
	buf := make([]byte, 0, len(data)+2)
	buf = socketio.AppendEncode(buf, &socketio.Packet{Type: socketio.Event, Namespace: socketio.MainNamespace, ID: socketio.NoID, Data: data})
	return transport.NewMessageFrame(buf)
}
