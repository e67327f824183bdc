package engineio

import "encoding/json"

// Handshake is the JSON payload of the open packet. The official suites
// require exactly these five keys, in this order, and nothing else.
type Handshake struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

// MarshalJSON writes h with a nil Upgrades as [] rather than null: a
// WebSocket-only session advertises "upgrades":[] and clients iterate it.
func (h Handshake) MarshalJSON() ([]byte, error) {
	type plain Handshake
	if h.Upgrades == nil {
		h.Upgrades = []string{}
	}
	return json.Marshal(plain(h))
}
