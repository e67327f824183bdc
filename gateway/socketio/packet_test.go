package socketio

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	ph0 = `{"_placeholder":true,"num":0}`
	ph1 = `{"_placeholder":true,"num":1}`
)

func raw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func TestPacketTypeString(t *testing.T) {
	names := []string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}
	for i, name := range names {
		require.Equal(t, name, PacketType(i).String())
		require.Equal(t, i >= 5, PacketType(i).IsBinary())
	}
	require.Equal(t, "PacketType(7)", PacketType(7).String())
}

// validPackets are the frames of protocol.md (b) and (c) without the
// Engine.IO '4', with the packet each decodes to. enc is the canonical
// re-encoding when it differs from the input.
var validPackets = []struct {
	in  string
	enc string
	p   Packet
}{
	{in: "0", p: Packet{Type: Connect, Namespace: "/", ID: NoID}},
	{in: `0{"jwt":"x.y.z"}`, p: Packet{Type: Connect, Namespace: "/", ID: NoID, Data: raw(`{"jwt":"x.y.z"}`)}},
	{in: `0{"token":"123"}`, p: Packet{Type: Connect, Namespace: "/", ID: NoID, Data: raw(`{"token":"123"}`)}},
	{in: "0/chat,", p: Packet{Type: Connect, Namespace: "/chat", ID: NoID}},
	{in: `0/chat,{"room":7}`, p: Packet{Type: Connect, Namespace: "/chat", ID: NoID, Data: raw(`{"room":7}`)}},
	{in: "0/custom,", p: Packet{Type: Connect, Namespace: "/custom", ID: NoID}},
	{in: `0/custom,{"token":"abc"}`, p: Packet{Type: Connect, Namespace: "/custom", ID: NoID, Data: raw(`{"token":"abc"}`)}},
	{in: "0/custom", enc: "0/custom,", p: Packet{Type: Connect, Namespace: "/custom", ID: NoID}},
	{in: "0/random", enc: "0/random,", p: Packet{Type: Connect, Namespace: "/random", ID: NoID}},
	{in: `0{"sid":"abc"}`, p: Packet{Type: Connect, Namespace: "/", ID: NoID, Data: raw(`{"sid":"abc"}`)}},
	{in: `0/chat,{"sid":"abc"}`, p: Packet{Type: Connect, Namespace: "/chat", ID: NoID, Data: raw(`{"sid":"abc"}`)}},
	{in: "0/,", enc: "0", p: Packet{Type: Connect, Namespace: "/", ID: NoID}},
	{in: "1", p: Packet{Type: Disconnect, Namespace: "/", ID: NoID}},
	{in: "1/chat,", p: Packet{Type: Disconnect, Namespace: "/chat", ID: NoID}},
	{in: "1/custom", enc: "1/custom,", p: Packet{Type: Disconnect, Namespace: "/custom", ID: NoID}},
	{in: `2["join","q1"]`, p: Packet{Type: Event, Namespace: "/", ID: NoID, Data: raw(`["join","q1"]`)}},
	{in: `2/chat,["typing"]`, p: Packet{Type: Event, Namespace: "/chat", ID: NoID, Data: raw(`["typing"]`)}},
	{in: `27["count"]`, p: Packet{Type: Event, Namespace: "/", ID: 7, Data: raw(`["count"]`)}},
	{in: `2["message",1,"2",{"3":[true]}]`, p: Packet{Type: Event, Namespace: "/", ID: NoID, Data: raw(`["message",1,"2",{"3":[true]}]`)}},
	{in: `2["message","message to main namespace"]`, p: Packet{Type: Event, Namespace: "/", ID: NoID, Data: raw(`["message","message to main namespace"]`)}},
	{in: `2456["message-with-ack",1,"2",{"3":[false]}]`, p: Packet{Type: Event, Namespace: "/", ID: 456, Data: raw(`["message-with-ack",1,"2",{"3":[false]}]`)}},
	{in: `2/custom,["auth",{}]`, p: Packet{Type: Event, Namespace: "/custom", ID: NoID, Data: raw(`["auth",{}]`)}},
	{in: `2[1,2]`, p: Packet{Type: Event, Namespace: "/", ID: NoID, Data: raw(`[1,2]`)}},
	{in: `2["\u0063hat"]`, p: Packet{Type: Event, Namespace: "/", ID: NoID, Data: raw(`["\u0063hat"]`)}},
	{in: `2 [ "spaced" ] `, p: Packet{Type: Event, Namespace: "/", ID: NoID, Data: raw(` [ "spaced" ] `)}},
	{in: `2["connected"]`, p: Packet{Type: Event, Namespace: "/", ID: NoID, Data: raw(`["connected"]`)}},
	{in: "37[42]", p: Packet{Type: Ack, Namespace: "/", ID: 7, Data: raw("[42]")}},
	{in: "3/chat,7[]", p: Packet{Type: Ack, Namespace: "/chat", ID: 7, Data: raw("[]")}},
	{in: `3456[1,"2",{"3":[false]}]`, p: Packet{Type: Ack, Namespace: "/", ID: 456, Data: raw(`[1,"2",{"3":[false]}]`)}},
	{in: `4/chat,{"message":"forbidden"}`, p: Packet{Type: ConnectError, Namespace: "/chat", ID: NoID, Data: raw(`{"message":"forbidden"}`)}},
	{in: `4/random,{"message":"Invalid namespace"}`, p: Packet{Type: ConnectError, Namespace: "/random", ID: NoID, Data: raw(`{"message":"Invalid namespace"}`)}},
	{in: `4"not authorized"`, p: Packet{Type: ConnectError, Namespace: "/", ID: NoID, Data: raw(`"not authorized"`)}},
	{in: `51-["upload","a.png",` + ph0 + `]`, p: Packet{Type: BinaryEvent, Namespace: "/", ID: NoID, Attachments: 1, Data: raw(`["upload","a.png",` + ph0 + `]`)}},
	{in: `52-["message",` + ph0 + `,` + ph1 + `]`, p: Packet{Type: BinaryEvent, Namespace: "/", ID: NoID, Attachments: 2, Data: raw(`["message",` + ph0 + `,` + ph1 + `]`)}},
	{in: `52-789["message-with-ack",` + ph0 + `,` + ph1 + `]`, p: Packet{Type: BinaryEvent, Namespace: "/", ID: 789, Attachments: 2, Data: raw(`["message-with-ack",` + ph0 + `,` + ph1 + `]`)}},
	{in: `52-/chat,3["x",` + ph0 + `,` + ph1 + `]`, p: Packet{Type: BinaryEvent, Namespace: "/chat", ID: 3, Attachments: 2, Data: raw(`["x",` + ph0 + `,` + ph1 + `]`)}},
	{in: `50-["x"]`, p: Packet{Type: BinaryEvent, Namespace: "/", ID: NoID, Data: raw(`["x"]`)}},
	{in: `564-["x"]`, p: Packet{Type: BinaryEvent, Namespace: "/", ID: NoID, Attachments: 64, Data: raw(`["x"]`)}},
	{in: `501-["x"]`, enc: `51-["x"]`, p: Packet{Type: BinaryEvent, Namespace: "/", ID: NoID, Attachments: 1, Data: raw(`["x"]`)}},
	{in: `61-9[` + ph0 + `]`, p: Packet{Type: BinaryAck, Namespace: "/", ID: 9, Attachments: 1, Data: raw(`[` + ph0 + `]`)}},
	{in: `62-789[` + ph0 + `,` + ph1 + `]`, p: Packet{Type: BinaryAck, Namespace: "/", ID: 789, Attachments: 2, Data: raw(`[` + ph0 + `,` + ph1 + `]`)}},
	{in: `2999999999999999999["x"]`, p: Packet{Type: Event, Namespace: "/", ID: 999999999999999999, Data: raw(`["x"]`)}},
	{in: `2/a/b?c=d,["x"]`, p: Packet{Type: Event, Namespace: "/a/b?c=d", ID: NoID, Data: raw(`["x"]`)}},
}

func TestDecode(t *testing.T) {
	for _, tt := range validPackets {
		t.Run(tt.in, func(t *testing.T) {
			p, err := Decode([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.p, *p)

			want := tt.enc
			if want == "" {
				want = tt.in
			}
			enc := AppendEncode(nil, p)
			require.Equal(t, want, string(enc))
			again, err := Decode(enc)
			require.NoError(t, err)
			require.Equal(t, p, again)
		})
	}
}

func TestDecodeInvalid(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"invalid type (4abc)", "abc"},
		{"type 7", `7["x"]`},
		{"type 9", "9"},
		{"event object (42{})", "2{}"},
		{"invalid ack id (42abc)", `2abc["message-with-ack",1,"2",{"3":[false]}]`},
		{"event empty array", "2[]"},
		{"event without payload", "2"},
		{"event with id only", "27"},
		{"event string", `2"x"`},
		{"event name bool", "2[true]"},
		{"event name null", "2[null]"},
		{"event name object", `2[{}]`},
		{"event name array", `2[["x"]]`},
		{"reserved connect", `2["connect"]`},
		{"reserved connect_error", `2["connect_error"]`},
		{"reserved disconnect", `2["disconnect"]`},
		{"reserved disconnecting", `2["disconnecting"]`},
		{"reserved newListener", `2["newListener"]`},
		{"reserved removeListener", `2["removeListener"]`},
		{"reserved escaped", `2["\u0063onnect"]`},
		{"reserved binary", `51-["disconnect",` + ph0 + `]`},
		{"namespace eats payload", `2/chat["x"]`},
		{"truncated json", `2["a"`},
		{"trailing garbage", `2["a"] x`},
		{"two values", `2["a"]["b"]`},
		{"bad escape", `2["\x"]`},
		{"ack id too long", `21234567890123456789["a"]`},
		{"connect array", "0[]"},
		{"connect string", `0"x"`},
		{"connect number", `0/chat,-7`},
		{"connect broken object", "0{"},
		{"disconnect payload", "1{}"},
		{"disconnect ns payload", "1/chat,{}"},
		{"ack without payload", "37"},
		{"ack object", "3{}"},
		{"ack string", `3"x"`},
		{"connect error array", "4[]"},
		{"connect error number", "44"},
		{"connect error empty", "4"},
		{"binary without count", `5["x"]`},
		{"binary empty count", `5-["x"]`},
		{"binary bad count", `5a-["x"]`},
		{"binary count without dash", `51["x"]`},
		{"binary count only", "51"},
		{"binary too many", `565-["x"]`},
		{"binary count too long", `51234-["x"]`},
		{"binary negative count", `5-1-["x"]`},
		{"binary ack without payload", "61-"},
		{"binary ack object", "61-{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decode([]byte(tt.in))
			require.ErrorIs(t, err, ErrInvalidPacket)
			require.Nil(t, p)
		})
	}
}

func TestDecodeAliases(t *testing.T) {
	b := []byte(`2/chat,["a"]`)
	p, err := Decode(b)
	require.NoError(t, err)
	b[9] = 'z'
	require.Equal(t, `["z"]`, string(p.Data), "Data aliases the input")
	b[1] = 'x'
	require.Equal(t, "/chat", p.Namespace, "Namespace is a copy")
}

func TestAppendEncode(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
		want string // full WebSocket frame, with the Engine.IO '4'
	}{
		{"connect reply", Packet{Type: Connect, ID: NoID, Data: raw(`{"sid":"abc"}`)}, `40{"sid":"abc"}`},
		{"connect reply custom", Packet{Type: Connect, Namespace: "/custom", ID: NoID, Data: raw(`{"sid":"abc"}`)}, `40/custom,{"sid":"abc"}`},
		{"auth", Packet{Type: Event, Namespace: "/", ID: NoID, Data: raw(`["auth",{}]`)}, `42["auth",{}]`},
		{"auth custom", Packet{Type: Event, Namespace: "/custom", ID: NoID, Data: raw(`["auth",{"token":"abc"}]`)}, `42/custom,["auth",{"token":"abc"}]`},
		{"invalid namespace", Packet{Type: ConnectError, Namespace: "/random", ID: NoID, Data: raw(`{"message":"Invalid namespace"}`)}, `44/random,{"message":"Invalid namespace"}`},
		{"ack", Packet{Type: Ack, ID: 456, Data: raw(`[1,"2",{"3":[false]}]`)}, `43456[1,"2",{"3":[false]}]`},
		{"ack id zero", Packet{Type: Ack, ID: 0, Data: raw(`[]`)}, `430[]`},
		{"ack custom", Packet{Type: Ack, Namespace: "/chat", ID: 7, Data: raw(`[]`)}, `43/chat,7[]`},
		{"disconnect", Packet{Type: Disconnect, Namespace: "/chat", ID: NoID}, `41/chat,`},
		{"binary event from buffers", Packet{Type: BinaryEvent, ID: NoID, Data: raw(`["message-back",` + ph0 + `,` + ph1 + `]`), Buffers: [][]byte{{1, 2, 3}, {4, 5, 6}}},
			`452-["message-back",` + ph0 + `,` + ph1 + `]`},
		{"binary ack from buffers", Packet{Type: BinaryAck, ID: 789, Data: raw(`[` + ph0 + `,` + ph1 + `]`), Buffers: [][]byte{{1}, {2}}},
			`462-789[` + ph0 + `,` + ph1 + `]`},
		{"binary ack explicit count", Packet{Type: BinaryAck, ID: 9, Attachments: 1, Data: raw(`[` + ph0 + `]`)}, `461-9[` + ph0 + `]`},
		{"binary zero attachments", Packet{Type: BinaryEvent, ID: NoID, Data: raw(`["x"]`)}, `450-["x"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendEncode([]byte{'4'}, &tt.p)
			require.Equal(t, tt.want, string(got))
			back, err := Decode(got[1:])
			require.NoError(t, err)
			if back.Attachments == 0 {
				back.Attachments = len(tt.p.Buffers)
			}
			want := tt.p
			if want.Namespace == "" {
				want.Namespace = "/"
			}
			want.Buffers = nil
			if want.Attachments == 0 {
				want.Attachments = len(tt.p.Buffers)
			}
			require.Equal(t, want, *back)
		})
	}
}

func TestPlaceholder(t *testing.T) {
	require.Equal(t, ph0, string(Placeholder(0)))
	require.Equal(t, ph1, string(Placeholder(1)))
	require.Equal(t, `{"_placeholder":true,"num":63}`, string(Placeholder(63)))
	require.True(t, json.Valid(Placeholder(12)))
	require.Equal(t, `[`+ph0+`]`, string(AppendPlaceholder([]byte("["), 0))+"]")
}
