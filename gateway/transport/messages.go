package transport

// Messages a session actor receives from HTTP handlers, WebSocket readers and
// its own timers. Those that carry a reply channel implement replier, so that
// a message that reaches a stopped session is still answered (see
// Server.answerDeadLetters).

type replier interface{ reject() }

// pollGet is a long-polling GET waiting for packets.
type pollGet struct{ reply chan pollResult }

func (m *pollGet) reject() { answer(m.reply, pollResult{status: 400, body: errSessionUnknown}) }

// pollPost is a long-polling POST carrying a payload.
type pollPost struct {
	body  []byte
	reply chan pollResult
}

func (m *pollPost) reject() { answer(m.reply, pollResult{status: 400, body: errSessionUnknown}) }

// answer replies without blocking: a reply channel holds one answer and the
// first one wins.
func answer(ch chan<- pollResult, r pollResult) {
	select {
	case ch <- r:
	default:
	}
}

// wsAttach offers a WebSocket to a polling session: the start of an upgrade.
// The session answers whether it took the WebSocket as its probe.
type wsAttach struct {
	conn  *wsConn
	reply chan bool
}

func (m *wsAttach) reject() {
	select {
	case m.reply <- false:
	default:
	}
}

// wsMessage is one WebSocket message read by a connection's reader.
type wsMessage struct {
	conn   *wsConn
	binary bool
	data   []byte
}

// wsPing is a WebSocket-level ping from the client, answered with a pong.
type wsPing struct {
	conn *wsConn
	data []byte
}

// wsClosed reports that a WebSocket's reader stopped. After errPeerClosed,
// code is the status of the client's close frame (0 for none), which the
// session's close frame echoes.
type wsClosed struct {
	conn *wsConn
	err  error
	code uint16
}

// closeSession asks a session to end.
type closeSession struct{ reason Reason }

// Timer ticks. They carry no state: each handler checks that the tick still
// applies, since a timer may fire just after it was stopped.
type (
	pingTick        struct{}
	pongDeadline    struct{}
	upgradeExpired  struct{}
	probeGetExpired struct{}
	lingerOver      struct{}
)

var (
	pingTickMsg        = &pingTick{}
	pongDeadlineMsg    = &pongDeadline{}
	upgradeExpiredMsg  = &upgradeExpired{}
	probeGetExpiredMsg = &probeGetExpired{}
	lingerOverMsg      = &lingerOver{}
)

// Upgraded is handed to the session's Handler (through Receive) once the
// session has moved from polling to WebSocket.
type Upgraded struct{}

var upgradedMsg = &Upgraded{}
