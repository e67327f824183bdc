// Package queue owns the queue domain: one service actor per service owns
// its waiting line (numbering through the Store, order, ageing and the wait
// estimate), one counter actor per counter owns its status and its current
// ticket, and a registry actor spawns them, keeps the read-only Directory
// snapshot that the gateway reads without asking, and runs the service-day
// rollover timer.
//
// Every state change is committed through persistence.Store before it is
// announced to the rooms; the Store's conditional updates guard the
// invariants, so the actors' in-memory state is a cache that is reloaded from
// the database when an actor (re)starts, and whenever an outcome leaves it
// unsure (a failed commit it could not settle, a counter the database
// disagrees with).
//
// Concurrency contract: every command carries the caller's ask.Request; the
// actor that does the work Begins it first, so a command whose caller gave
// up is never carried out. No actor waits on another: each service and
// counter actor publishes an immutable view after every change, which the
// gateway and the counters read without asking, and a counter's call-next
// goes to a service actor as takeHead and comes back as a *taken message.
// The registry supervises its children one-for-one (at most 10 restarts in
// 10 s); nothing but the database survives a restart.
package queue
