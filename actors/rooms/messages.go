package rooms

import "github.com/asynkron/protoactor-go/actor"

// Member is one socket in a room.
type Member struct {
	SocketID string
	PID      *actor.PID // the socket's actor; it receives Joined and Left
	Outbox   Outbox
}

// Join adds a member to a room, creating the room if needed. The room answers
// the member's PID with Joined, unless Quiet is set. When Announce is set, the room delivers it
// after the join: to the other members, and to the new one too when
// AnnounceToSelf is set.
type Join struct {
	Room           string
	Member         Member
	Announce       *Broadcast
	AnnounceToSelf bool
	Ref            uint64
	Quiet          bool
}

// Joined answers Join.
type Joined struct {
	Room     string
	SocketID string
	Size     int // members after the join
	Ref      uint64
}

// TargetSocket names the socket the message is for.
func (m *Joined) TargetSocket() string { return m.SocketID }

// Leave removes a member from a room. The room answers ReplyTo with Left
// when ReplyTo is set.
type Leave struct {
	Room     string
	SocketID string
	ReplyTo  *actor.PID
	Ref      uint64
}

// Left answers Leave.
type Left struct {
	Room     string
	SocketID string
	Size     int // members after the leave
	Ref      uint64
}

// TargetSocket names the socket the message is for.
func (m *Left) TargetSocket() string { return m.SocketID }

// LeaveAll removes a departing socket from every room it is in.
type LeaveAll struct {
	SocketID string
	Rooms    []string
}

// Publish delivers a broadcast to every member of the named rooms, once per
// socket even when it is in several of them, except the socket Except. When
// Reply is set the manager sends it the number of sockets addressed (in the
// whole cluster when the manager has Peers).
type Publish struct {
	Rooms     []string
	Except    string
	Broadcast *Broadcast
	Reply     chan<- int
	// Forwarded marks a publish that arrived from another node: it is
	// delivered to this node's members only, never handed to Peers again.
	Forwarded bool
}

// Fail makes the room named Room panic once (for tests of supervision).
type Fail struct{ Room string }

// FailManager makes the manager itself panic once (for tests of
// supervision).
type FailManager struct{}

// GetStats asks the manager for room counts; the answer goes to Reply.
type GetStats struct {
	Reply chan<- Stats
}

// Stats is a snapshot of this node's rooms.
type Stats struct {
	Rooms   int
	Members int            // memberships summed over rooms
	Sizes   map[string]int // members per room
}

// deliver is what the manager sends a room to fan a broadcast out. For a
// publish to several rooms, the room hands it back to the manager, which
// passes it to the next room in next that still exists; each room skips the
// sockets already reached (seen). Going through the manager keeps every hop
// ordered with joins and leaves, so a room stopped meanwhile is skipped
// rather than swallowing the rest of the publish.
type deliver struct {
	broadcast *Broadcast
	except    string
	next      []string
	seen      map[string]struct{}
}
