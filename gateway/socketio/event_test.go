package socketio

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitEvent(t *testing.T) {
	tests := []struct {
		data string
		name string
		args []string
	}{
		{`["message",1,"2",{"3":[true]}]`, "message", []string{`1`, `"2"`, `{"3":[true]}`}},
		{`["message-with-ack",1,"2",{"3":[false]}]`, "message-with-ack", []string{`1`, `"2"`, `{"3":[false]}`}},
		{`["message",` + ph0 + `,` + ph1 + `]`, "message", []string{ph0, ph1}},
		{`["typing"]`, "typing", nil},
		{` [ "a" , 1 , [ 2, 3 ] ,{ "k" : null } ] `, "a", []string{`1`, `[ 2, 3 ]`, `{ "k" : null }`}},
		{`["\u0063hat\n","x"]`, "chat\n", []string{`"x"`}},
		{`["é",-1.5e3]`, "é", []string{`-1.5e3`}},
		{`[42,"x"]`, "42", []string{`"x"`}},
		{`[-1]`, "-1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			name, args, err := SplitEvent(raw(tt.data))
			require.NoError(t, err)
			require.Equal(t, tt.name, name)
			require.Len(t, args, len(tt.args))
			for i := range args {
				require.Equal(t, tt.args[i], string(args[i]))
			}
		})
	}
}

func TestSplitEventInvalid(t *testing.T) {
	for _, in := range []string{``, `{}`, `[]`, `"x"`, `[true]`, `[null]`, `[{}]`, `[[]]`, `["a"`, `["a",]`, `["a"] 1`, `[01]`} {
		t.Run(in, func(t *testing.T) {
			_, _, err := SplitEvent(raw(in))
			require.ErrorIs(t, err, ErrInvalidPacket)
		})
	}
}

// The official suite compares the echoed frame with the sent one byte for
// byte, so split + rebuild must reproduce the arguments exactly.
func TestEchoIsExact(t *testing.T) {
	p, err := Decode([]byte(`2["message",1,"2",{"3":[true]}]`))
	require.NoError(t, err)
	_, args, err := SplitEvent(p.Data)
	require.NoError(t, err)
	out := AppendEncode([]byte{'4'}, &Packet{Type: Event, ID: NoID, Data: AppendEventData(nil, "message-back", args...)})
	require.Equal(t, `42["message-back",1,"2",{"3":[true]}]`, string(out))

	p, err = Decode([]byte(`2456["message-with-ack",1,"2",{"3":[false]}]`))
	require.NoError(t, err)
	_, args, err = SplitEvent(p.Data)
	require.NoError(t, err)
	out = AppendEncode([]byte{'4'}, &Packet{Type: Ack, ID: p.ID, Data: AppendArrayData(nil, args...)})
	require.Equal(t, `43456[1,"2",{"3":[false]}]`, string(out))

	p, err = Decode([]byte(`52-789["message-with-ack",` + ph0 + `,` + ph1 + `]`))
	require.NoError(t, err)
	_, args, err = SplitEvent(p.Data)
	require.NoError(t, err)
	out = AppendEncode([]byte{'4'}, &Packet{Type: BinaryAck, ID: p.ID, Data: AppendArrayData(nil, args...), Buffers: [][]byte{{1, 2, 3}, {4, 5, 6}}})
	require.Equal(t, `462-789[`+ph0+`,`+ph1+`]`, string(out))
}

func TestAppendEventData(t *testing.T) {
	require.Equal(t, `["auth",{}]`, string(AppendEventData(nil, "auth", raw(`{}`))))
	require.Equal(t, `["auth",{"token":"123"}]`, string(AppendEventData(nil, "auth", raw(`{"token":"123"}`))))
	require.Equal(t, `["ping"]`, string(AppendEventData(nil, "ping")))
	require.Equal(t, `["x",null,1]`, string(AppendEventData(nil, "x", nil, raw("1"))))
	require.Equal(t, `["upload","a.png",`+ph0+`]`, string(AppendEventData(nil, "upload", raw(`"a.png"`), Placeholder(0))))
	require.Equal(t, `[]`, string(AppendArrayData(nil)))
	require.Equal(t, `[42]`, string(AppendArrayData(nil, raw("42"))))
	require.Equal(t, `[null,true]`, string(AppendArrayData(nil, json.RawMessage{}, raw("true"))))
}

func TestAppendEventDataEscaping(t *testing.T) {
	tests := []struct{ name, want string }{
		{"plain", `"plain"`},
		{`q"b\s`, `"q\"b\\s"`},
		{"ctl\b\f\n\r\t\x00\x1f\x7f", `"ctl\b\f\n\r\t\u0000\u001f` + "\x7f" + `"`},
		{"<html>&", `"<html>&"`},
		{"é日本\u2028", "\"é日本\u2028\""},
		{"bad\xffutf8\xc3", `"bad\ufffdutf8\ufffd"`},
		{"", `""`},
	}
	for _, tt := range tests {
		got := AppendEventData(nil, tt.name)
		require.Equal(t, "["+tt.want+"]", string(got))
		var back []string
		require.NoError(t, json.Unmarshal(got, &back))
		var std string
		b, _ := json.Marshal(tt.name)
		require.NoError(t, json.Unmarshal(b, &std))
		require.Equal(t, []string{std}, back, "decodes to what encoding/json would")
	}
}

func TestIsReservedEvent(t *testing.T) {
	for _, n := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		require.True(t, IsReservedEvent(n), n)
	}
	for _, n := range []string{"", "message", "Connect", "connected", "error", "ping"} {
		require.False(t, IsReservedEvent(n), n)
	}
}
