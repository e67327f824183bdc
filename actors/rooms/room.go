package rooms

import (
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// room owns the membership of one room. Members sit in a slice, for a fast
// fan-out loop, with an index by socket id for O(1) removal.
//
// The membership survives a restart: the room's producer hands every
// incarnation the same *room (see Manager.join), so a room restarted after
// a panic still delivers to every socket that joined it. Only the message
// being handled when it failed is lost. Each Started rebuilds the index
// from the slice, so a failure halfway through a change cannot leave the
// two disagreeing.
type room struct {
	name    string
	members []Member
	index   map[string]int
	log     *slog.Logger
}

func newRoom(name string, log *slog.Logger) *room {
	return &room{name: name, index: make(map[string]int), log: log}
}

func (r *room) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.reindex()
	case *actor.Stopping, *actor.Stopped, *actor.Restarting:
	case *Join:
		r.join(ctx, m)
	case *Leave:
		r.leave(ctx, m)
	case *deliver:
		r.deliver(ctx, m)
	case *Fail:
		panic("room: failure requested")
	default:
		r.log.Warn("room: unknown message", slog.String("room", r.name), slog.String("type", fmt.Sprintf("%T", m)))
	}
}

// reindex rebuilds the index from the members, dropping a duplicate or an
// empty slot a failed change may have left.
func (r *room) reindex() {
	clear(r.index)
	kept := r.members[:0]
	for _, mem := range r.members {
		if _, dup := r.index[mem.SocketID]; dup || mem.Outbox == nil {
			continue
		}
		r.index[mem.SocketID] = len(kept)
		kept = append(kept, mem)
	}
	clear(r.members[len(kept):])
	r.members = kept
}

func (r *room) join(ctx actor.Context, m *Join) {
	if _, ok := r.index[m.Member.SocketID]; !ok {
		r.index[m.Member.SocketID] = len(r.members)
		r.members = append(r.members, m.Member)
	}
	if !m.Quiet {
		ctx.Send(m.Member.PID, &Joined{Room: r.name, SocketID: m.Member.SocketID, Size: len(r.members), Ref: m.Ref})
	}
	if m.Announce != nil {
		except := m.Member.SocketID
		if m.AnnounceToSelf {
			except = ""
		}
		r.fanOut(m.Announce, except, nil)
	}
}

func (r *room) leave(ctx actor.Context, m *Leave) {
	if i, ok := r.index[m.SocketID]; ok {
		last := len(r.members) - 1
		r.members[i] = r.members[last]
		r.index[r.members[i].SocketID] = i
		r.members[last] = Member{}
		r.members = r.members[:last]
		delete(r.index, m.SocketID)
	}
	if m.ReplyTo != nil {
		ctx.Send(m.ReplyTo, &Left{Room: r.name, SocketID: m.SocketID, Size: len(r.members), Ref: m.Ref})
	}
}

func (r *room) deliver(ctx actor.Context, m *deliver) {
	r.fanOut(m.broadcast, m.except, m.seen)
	if len(m.next) > 0 {
		ctx.Send(ctx.Parent(), m)
	}
}

// fanOut hands b to every member but except and those in seen; when seen is
// not nil the members reached are added to it.
func (r *room) fanOut(b *Broadcast, except string, seen map[string]struct{}) {
	for i := range r.members {
		mem := &r.members[i]
		if mem.SocketID == except {
			continue
		}
		if seen != nil {
			if _, dup := seen[mem.SocketID]; dup {
				continue
			}
			seen[mem.SocketID] = struct{}{}
		}
		mem.Outbox.Deliver(b)
	}
}
