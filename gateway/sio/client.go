package sio

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/queuecast/queuecast/gateway/engineio"
	"github.com/queuecast/queuecast/gateway/limits"
	"github.com/queuecast/queuecast/gateway/socketio"
	"github.com/queuecast/queuecast/gateway/transport"
)

// connectExpired is the client's connect-timeout tick.
type connectExpired struct{}

var connectExpiredMsg = &connectExpired{}

// client is the Socket.IO side of one Engine.IO session.
type client struct {
	srv          *Server
	sess         *transport.Session
	dec          socketio.Decoder
	sockets      map[string]*Socket // by namespace
	connectTimer *time.Timer
	everJoined   bool
	events       *limits.Events // nil: no event rate limit
}

func (c *client) Open(s *transport.Session) {
	c.sess = s
	c.connectTimer = transport.SendAfter(s.Context().ActorSystem(), c.srv.cfg.ConnectTimeout, s.Context().Self(), connectExpiredMsg)
}

func (c *client) Message(s *transport.Session, p engineio.Packet) {
	var (
		pkt      *socketio.Packet
		complete bool
		err      error
	)
	if p.Binary {
		pkt, complete, err = c.dec.AddBinary(p.Data)
	} else {
		pkt, complete, err = c.dec.AddText(p.Data)
	}
	if err != nil {
		if errors.Is(err, socketio.ErrTooLarge) {
			s.Close(transport.ReasonPayloadTooLarge)
		} else {
			s.Close(transport.ReasonParseError)
		}
		return
	}
	if complete {
		c.dispatch(pkt)
	}
}

func (c *client) dispatch(p *socketio.Packet) {
	switch c.events.Take(time.Now()) {
	case limits.Refuse:
		c.srv.cfg.Refusals.Events.Add(1)
		c.refuse(p)
		return
	case limits.Disconnect:
		c.srv.cfg.Refusals.Disconnects.Add(1)
		c.sess.Close(transport.ReasonRateLimited)
		return
	}
	if !c.everJoined && p.Type != socketio.Connect {
		c.sess.Close(transport.ReasonParseError)
		return
	}
	switch p.Type {
	case socketio.Connect:
		c.connect(p)
	case socketio.Disconnect:
		if sock, ok := c.sockets[p.Namespace]; ok {
			c.remove(sock, "client namespace disconnect")
		}
	case socketio.Event, socketio.BinaryEvent:
		if sock, ok := c.sockets[p.Namespace]; ok {
			sock.onEvent(p)
		}
	case socketio.Ack, socketio.BinaryAck:
		if sock, ok := c.sockets[p.Namespace]; ok {
			sock.onAck(p)
		}
	default:
		c.sess.Close(transport.ReasonParseError)
	}
}

// refuse answers a packet over the event rate limit: an event goes to its
// namespace's OnRateLimited, anything else is dropped.
func (c *client) refuse(p *socketio.Packet) {
	if p.Type != socketio.Event && p.Type != socketio.BinaryEvent {
		return
	}
	sock, ok := c.sockets[p.Namespace]
	if !ok || sock.nsp.OnRateLimited == nil {
		return
	}
	name, args, err := socketio.SplitEvent(p.Data)
	if err != nil {
		c.sess.Close(transport.ReasonParseError)
		return
	}
	sock.nsp.OnRateLimited(sock, &Event{Name: name, Args: args, Buffers: p.Buffers, ID: p.ID})
}

func (c *client) connect(p *socketio.Packet) {
	ns, ok := c.srv.namespaces[p.Namespace]
	if !ok {
		c.connectError(p.Namespace, "Invalid namespace")
		return
	}
	if _, dup := c.sockets[p.Namespace]; dup {
		c.connectError(p.Namespace, "already connected")
		return
	}
	var data any
	if ns.Authorize != nil {
		d, err := ns.Authorize(c.sess.Info(), p.Data)
		if err != nil {
			c.connectError(p.Namespace, err.Error())
			return
		}
		data = d
	}
	sock := newSocket(c, ns, data)
	c.sockets[ns.Name] = sock
	if !c.everJoined {
		c.everJoined = true
		c.connectTimer.Stop()
	}
	reply, _ := json.Marshal(struct {
		SID string `json:"sid"`
	}{sock.id})
	sock.send(&socketio.Packet{Type: socketio.Connect, Namespace: ns.Name, ID: socketio.NoID, Data: reply})
	if ns.OnConnect != nil {
		ns.OnConnect(sock, p.Data)
	}
}

func (c *client) connectError(nsp, message string) {
	data, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{message})
	c.push(&socketio.Packet{Type: socketio.ConnectError, Namespace: nsp, ID: socketio.NoID, Data: data})
}

func (c *client) remove(sock *Socket, reason string) {
	delete(c.sockets, sock.nsp.Name)
	sock.connected = false
	if sock.nsp.OnDisconnect != nil {
		sock.nsp.OnDisconnect(sock, reason)
	}
}

// push encodes a packet and queues it with its attachments.
func (c *client) push(p *socketio.Packet) bool {
	buf := make([]byte, 0, 16+len(p.Data))
	buf = socketio.AppendEncode(buf, p)
	ok := c.sess.Push(transport.NewMessageFrame(buf))
	for _, b := range p.Buffers {
		ok = c.sess.Push(transport.NewFrame(engineio.Packet{Type: engineio.Message, Data: b, Binary: true})) && ok
	}
	return ok
}

func (c *client) Receive(s *transport.Session, msg any) {
	switch m := msg.(type) {
	case *connectExpired:
		if !c.everJoined {
			s.Close(transport.ReasonForcedClose)
		}
	case *transport.Upgraded:
		for _, sock := range c.sockets {
			if sock.nsp.OnReceive != nil {
				sock.nsp.OnReceive(sock, msg)
			}
		}
	case Targeted:
		for _, sock := range c.sockets {
			if sock.id == m.TargetSocket() {
				if sock.nsp.OnReceive != nil {
					sock.nsp.OnReceive(sock, msg)
				}
				return
			}
		}
	}
}

func (c *client) Closed(s *transport.Session, reason transport.Reason) {
	if c.connectTimer != nil {
		c.connectTimer.Stop()
	}
	for _, sock := range c.sockets {
		c.remove(sock, string(reason))
	}
}
