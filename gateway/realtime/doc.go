// Package realtime is queuecast's Socket.IO namespace "/": the events of the
// wire contract (joinDashboard, joinServiceQueue, joinCounter, joinUserRoom,
// leaveRoom, ping, clientError, clientInfo), their role rules and acks, and
// the client record each connection owns.
//
// Handlers run inside the connection's session actor (see package sio). Room
// joins go to the room manager actor, whose Joined answer comes back to the
// same actor; the client's ack is sent then, so an acked join is in effect.
package realtime
