package engineio

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHandshakeJSON(t *testing.T) {
	tests := []struct {
		name string
		h    Handshake
		want string
	}{
		{"polling", Handshake{SID: "lv_VI97HAXpY6yYWAAAC", Upgrades: []string{"websocket"}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1000000},
			`{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`},
		{"websocket nil upgrades", Handshake{SID: "a", PingInterval: 300, PingTimeout: 200, MaxPayload: 1000000},
			`{"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`},
		{"websocket empty upgrades", Handshake{SID: "a", Upgrades: []string{}, PingInterval: 300, PingTimeout: 200, MaxPayload: 1000000},
			`{"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range []any{tt.h, &tt.h} {
				b, err := json.Marshal(v)
				require.NoError(t, err)
				require.Equal(t, tt.want, string(b))
			}
			b, _ := json.Marshal(tt.h)
			require.Equal(t, "0"+tt.want, string(AppendText(nil, Packet{Type: Open, Data: b})))
			var back Handshake
			require.NoError(t, json.Unmarshal(b, &back))
			require.Equal(t, tt.h.SID, back.SID)
			require.Len(t, back.Upgrades, len(tt.h.Upgrades))
		})
	}
}
