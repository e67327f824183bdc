package engineio

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPacketTypeString(t *testing.T) {
	names := []string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}
	for i, name := range names {
		require.True(t, PacketType(i).Valid())
		require.Equal(t, name, PacketType(i).String())
	}
	require.False(t, PacketType(7).Valid())
	require.Equal(t, "PacketType(7)", PacketType(7).String())
}

func TestDecodeText(t *testing.T) {
	tests := []struct {
		in   string
		want Packet
	}{
		{"0" + `{"sid":"a","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`,
			Packet{Type: Open, Data: []byte(`{"sid":"a","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`)}},
		{"1", Packet{Type: Close}},
		{"2", Packet{Type: Ping}},
		{"2probe", Packet{Type: Ping, Data: []byte("probe")}},
		{"3", Packet{Type: Pong}},
		{"3probe", Packet{Type: Pong, Data: []byte("probe")}},
		{"4hello", Packet{Type: Message, Data: []byte("hello")}},
		{`42["message",1,"2",{"3":[true]}]`, Packet{Type: Message, Data: []byte(`2["message",1,"2",{"3":[true]}]`)}},
		{"5", Packet{Type: Upgrade}},
		{"6", Packet{Type: Noop}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := DecodeText([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.in, string(AppendText(nil, got)))
		})
	}
}

func TestDecodeTextAliases(t *testing.T) {
	b := []byte("4hello")
	p, err := DecodeText(b)
	require.NoError(t, err)
	b[1] = 'J'
	require.Equal(t, "Jello", string(p.Data))
}

func TestDecodeTextInvalid(t *testing.T) {
	for _, in := range []string{"", "abc", "7", "9x", "b3q0=", "/", ":", "\x00", " 4hello"} {
		t.Run(in, func(t *testing.T) {
			_, err := DecodeText([]byte(in))
			require.ErrorIs(t, err, ErrInvalidPacket)
		})
	}
}

func TestAppendText(t *testing.T) {
	require.Equal(t, "4hello", string(AppendText([]byte{}, Packet{Type: Message, Data: []byte("hello")})))
	require.Equal(t, "xx6", string(AppendText([]byte("xx"), Packet{Type: Noop})))
	require.Equal(t, "3probe", string(AppendText(nil, Packet{Type: Pong, Data: []byte("probe")})))
}

func TestErrorsAreDistinct(t *testing.T) {
	require.False(t, errors.Is(ErrInvalidPacket, ErrInvalidPayload))
	require.False(t, errors.Is(ErrInvalidPayload, ErrInvalidPacket))
}
