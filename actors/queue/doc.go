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
// the database when an actor (re)starts. Counter actors ask service actors
// (peek, take) and wait for the answer; service actors never ask counters,
// so there is no cycle. The registry supervises its children one-for-one
// (at most 10 restarts in 10 s); nothing but the database survives a
// restart.
package queue
