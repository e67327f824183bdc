package transport

// Reason says why a session ended. The set is small and named so that logs,
// metrics and handlers can tell the cases apart.
type Reason string

// Close reasons. The strings match the ones socket.io uses where it has one.
const (
	ReasonTransportClose  Reason = "transport close"       // the client closed the connection
	ReasonTransportError  Reason = "transport error"       // a read or write failed
	ReasonPingTimeout     Reason = "ping timeout"          // no pong within pingTimeout
	ReasonParseError      Reason = "parse error"           // an invalid packet arrived
	ReasonClientClose     Reason = "client close"          // the client sent an Engine.IO close
	ReasonServerShutdown  Reason = "server shutting down"  // graceful shutdown
	ReasonForcedClose     Reason = "forced close"          // the application closed the session
	ReasonSlowConsumer    Reason = "slow consumer"         // the outbound queue overflowed or a write timed out
	ReasonPayloadTooLarge Reason = "payload too large"     // a message over maxPayload
	ReasonProtocolError   Reason = "protocol error"        // e.g. two GETs at once
	ReasonRateLimited     Reason = "rate limited"          // the client kept sending events over its rate limit
	ReasonInvalidUTF8     Reason = "invalid utf-8"         // a WebSocket text message or close reason that is not UTF-8
	ReasonHandlerPanic    Reason = "internal server error" // the session actor failed
)
