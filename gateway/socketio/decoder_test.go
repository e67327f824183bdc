package socketio

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecoderBinaryEvent(t *testing.T) {
	var d Decoder
	text := []byte(`52-["message",` + ph0 + `,` + ph1 + `]`)
	p, complete, err := d.AddText(text)
	require.NoError(t, err)
	require.False(t, complete)
	require.Nil(t, p)
	require.Equal(t, 2, d.Awaiting())

	text[3] = 'X' // the pending packet holds its own copy
	p, complete, err = d.AddBinary([]byte{1, 2, 3})
	require.NoError(t, err)
	require.False(t, complete)
	require.Nil(t, p)
	require.Equal(t, 1, d.Awaiting())

	p, complete, err = d.AddBinary([]byte{4, 5, 6})
	require.NoError(t, err)
	require.True(t, complete)
	require.Equal(t, &Packet{
		Type: BinaryEvent, Namespace: "/", ID: NoID, Attachments: 2,
		Data:    raw(`["message",` + ph0 + `,` + ph1 + `]`),
		Buffers: [][]byte{{1, 2, 3}, {4, 5, 6}},
	}, p)
	require.Equal(t, 0, d.Awaiting())

	// The Decoder is ready for the next packet.
	p, complete, err = d.AddText([]byte(`2["message","x"]`))
	require.NoError(t, err)
	require.True(t, complete)
	require.Equal(t, Event, p.Type)
}

func TestDecoderBinaryAck(t *testing.T) {
	var d Decoder
	_, complete, err := d.AddText([]byte(`62-789[` + ph0 + `,` + ph1 + `]`))
	require.NoError(t, err)
	require.False(t, complete)
	_, _, err = d.AddBinary([]byte{1})
	require.NoError(t, err)
	p, complete, err := d.AddBinary([]byte{})
	require.NoError(t, err)
	require.True(t, complete)
	require.Equal(t, BinaryAck, p.Type)
	require.Equal(t, int64(789), p.ID)
	require.Equal(t, [][]byte{{1}, {}}, p.Buffers)
}

func TestDecoderTextPackets(t *testing.T) {
	var d Decoder
	for _, tt := range validPackets {
		if tt.p.Attachments > 0 {
			continue
		}
		p, complete, err := d.AddText([]byte(tt.in))
		require.NoError(t, err, tt.in)
		require.True(t, complete, tt.in)
		require.Equal(t, tt.p, *p, tt.in)
	}
}

func TestDecoderErrors(t *testing.T) {
	t.Run("binary when idle", func(t *testing.T) {
		var d Decoder
		_, _, err := d.AddBinary([]byte{1})
		require.ErrorIs(t, err, ErrInvalidPacket)
	})
	t.Run("text while awaiting", func(t *testing.T) {
		var d Decoder
		_, _, err := d.AddText([]byte(`51-["x",` + ph0 + `]`))
		require.NoError(t, err)
		_, _, err = d.AddText([]byte(`2["x"]`))
		require.ErrorIs(t, err, ErrInvalidPacket)
		require.Equal(t, 0, d.Awaiting(), "reset after an error")
		_, _, err = d.AddBinary([]byte{1})
		require.ErrorIs(t, err, ErrInvalidPacket, "the abandoned packet is gone")
	})
	t.Run("invalid text", func(t *testing.T) {
		var d Decoder
		_, _, err := d.AddText([]byte(`2{}`))
		require.ErrorIs(t, err, ErrInvalidPacket)
	})
	t.Run("reset", func(t *testing.T) {
		var d Decoder
		_, _, err := d.AddText([]byte(`51-["x",` + ph0 + `]`))
		require.NoError(t, err)
		d.Reset()
		require.Equal(t, 0, d.Awaiting())
		p, complete, err := d.AddText([]byte(`2["y"]`))
		require.NoError(t, err)
		require.True(t, complete)
		require.Equal(t, raw(`["y"]`), p.Data)
	})
}

// A binary packet's attachments together stay within MaxBytes (the text
// part is bounded by the transport); the Decoder then starts afresh.
func TestDecoderMaxBytes(t *testing.T) {
	d := Decoder{MaxBytes: 100}
	text := []byte(`52-["message",` + ph0 + `,` + ph1 + `]`)
	_, _, err := d.AddText(text)
	require.NoError(t, err)
	_, complete, err := d.AddBinary(make([]byte, 100))
	require.NoError(t, err, "exactly at the limit")
	require.False(t, complete)
	_, _, err = d.AddBinary([]byte{1})
	require.ErrorIs(t, err, ErrTooLarge)
	require.Equal(t, 0, d.Awaiting())

	// Small packets still pass, and the count starts again.
	_, _, err = d.AddText(text)
	require.NoError(t, err)
	_, _, err = d.AddBinary([]byte{1})
	require.NoError(t, err)
	p, complete, err := d.AddBinary([]byte{2})
	require.NoError(t, err)
	require.True(t, complete)
	require.Equal(t, [][]byte{{1}, {2}}, p.Buffers)
}
