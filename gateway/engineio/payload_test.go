package engineio

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func collect(t *testing.T, body string) ([]Packet, error) {
	t.Helper()
	var got []Packet
	err := DecodePayload([]byte(body), func(p Packet) error {
		got = append(got, p)
		return nil
	})
	return got, err
}

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Packet
	}{
		{"single", "4hello", []Packet{{Type: Message, Data: []byte("hello")}}},
		{"lone ping", "2", []Packet{{Type: Ping}}},
		{"noop", "6", []Packet{{Type: Noop}}},
		{"message pong message", "4abc\x1e3\x1e4def", []Packet{
			{Type: Message, Data: []byte("abc")},
			{Type: Pong},
			{Type: Message, Data: []byte("def")},
		}},
		{"three messages", "4test1\x1e4test2\x1e4test3", []Packet{
			{Type: Message, Data: []byte("test1")},
			{Type: Message, Data: []byte("test2")},
			{Type: Message, Data: []byte("test3")},
		}},
		{"text and binary", "4hello\x1ebAQIDBA==", []Packet{
			{Type: Message, Data: []byte("hello")},
			{Type: Message, Data: []byte{1, 2, 3, 4}, Binary: true},
		}},
		{"dead", "b3q0=", []Packet{{Type: Message, Data: []byte{0xde, 0xad}, Binary: true}}},
		{"empty binary", "b", []Packet{{Type: Message, Data: []byte{}, Binary: true}}},
		{"socket.io binary event", `451-["upload","a.png",{"_placeholder":true,"num":0}]` + "\x1ebAQID", []Packet{
			{Type: Message, Data: []byte(`51-["upload","a.png",{"_placeholder":true,"num":0}]`)},
			{Type: Message, Data: []byte{1, 2, 3}, Binary: true},
		}},
		{"close", "1", []Packet{{Type: Close}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(t, tt.body)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.body, string(AppendPayload(nil, got...)))
		})
	}
}

func TestDecodePayloadInvalid(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   int // records delivered before the error
	}{
		{"empty body", "", 0},
		{"garbage", "abc", 0},
		{"unknown digit", "9", 0},
		{"empty record", "4a\x1e\x1e4b", 1},
		{"trailing separator", "4a\x1e", 1},
		{"leading separator", "\x1e4a", 0},
		{"bad base64", "4a\x1eb!!!!", 1},
		{"unpadded base64", "bAQIDBA", 0},
		{"garbage after good", "4a\x1e3\x1ezz", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(t, tt.body)
			require.ErrorIs(t, err, ErrInvalidPayload)
			require.Len(t, got, tt.ok)
		})
	}
}

func TestDecodePayloadCallbackError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := DecodePayload([]byte("4a\x1e4b\x1e4c"), func(p Packet) error {
		calls++
		if string(p.Data) == "b" {
			return stop
		}
		return nil
	})
	require.Same(t, stop, err, "fn's error must come back unwrapped")
	require.Equal(t, 2, calls)
}

func TestDecodePayloadBinaryIsFresh(t *testing.T) {
	body := []byte("4hi\x1ebAQIDBA==")
	var pkts []Packet
	require.NoError(t, DecodePayload(body, func(p Packet) error { pkts = append(pkts, p); return nil }))
	for i := range body {
		body[i] = 0
	}
	require.Equal(t, []byte{0, 0}, pkts[0].Data, "text data aliases the body")
	require.Equal(t, []byte{1, 2, 3, 4}, pkts[1].Data, "binary data is a fresh slice")
}

func TestAppendPollingPacket(t *testing.T) {
	require.Equal(t, "b3q0=", string(AppendPollingPacket(nil, Packet{Type: Message, Data: []byte{0xde, 0xad}, Binary: true})))
	require.Equal(t, "4hello", string(AppendPollingPacket(nil, Packet{Type: Message, Data: []byte("hello")})))
	require.Equal(t, "2", string(AppendPollingPacket(nil, Packet{Type: Ping, Binary: true})), "Binary only applies to messages")
	require.Equal(t, "", string(AppendPayload(nil)))
}

func TestPayloadRoundTrip(t *testing.T) {
	pkts := []Packet{
		{Type: Open, Data: []byte(`{"sid":"x"}`)},
		{Type: Message, Data: []byte("text")},
		{Type: Message, Data: []byte{0, 0x1e, 0xff, 'b'}, Binary: true},
		{Type: Ping, Data: []byte("probe")},
		{Type: Noop},
	}
	got, err := collect(t, string(AppendPayload(nil, pkts...)))
	require.NoError(t, err)
	require.Equal(t, pkts, got)
}
