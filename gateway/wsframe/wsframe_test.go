package wsframe

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendHeaderLengths(t *testing.T) {
	cases := []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{65535, []byte{0x81, 126, 0xff, 0xff}},
		{65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, c := range cases {
		got := AppendHeader(nil, OpText, c.n)
		require.Equal(t, c.want, got, "n=%d", c.n)
		require.Equal(t, len(c.want), HeaderLen(c.n))
	}
}

// readFrame is an independent RFC 6455 reader for unmasked frames.
func readFrame(t *testing.T, r *bufio.Reader) (fin bool, op byte, payload []byte) {
	t.Helper()
	var h [2]byte
	_, err := io.ReadFull(r, h[:])
	require.NoError(t, err)
	require.Zero(t, h[1]&0x80, "server frames are never masked")
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		_, err = io.ReadFull(r, ext[:])
		require.NoError(t, err)
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		_, err = io.ReadFull(r, ext[:])
		require.NoError(t, err)
		n = binary.BigEndian.Uint64(ext[:])
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(r, payload)
	require.NoError(t, err)
	return h[0]&0x80 != 0, h[0] & 0x0f, payload
}

func TestFramesRoundTrip(t *testing.T) {
	payloads := [][]byte{{}, []byte("hello"), bytes.Repeat([]byte("x"), 300), bytes.Repeat([]byte("y"), 70000)}
	var buf []byte
	for i, p := range payloads {
		op := OpText
		if i%2 == 1 {
			op = OpBinary
		}
		buf = AppendFrame(buf, op, []byte("4"), p)
	}
	buf = AppendClose(buf, CloseGoingAway, "bye")
	r := bufio.NewReader(bytes.NewReader(buf))
	for i, p := range payloads {
		fin, op, got := readFrame(t, r)
		require.True(t, fin)
		want := OpText
		if i%2 == 1 {
			want = OpBinary
		}
		require.Equal(t, want, op)
		require.Equal(t, append([]byte("4"), p...), got)
	}
	_, op, got := readFrame(t, r)
	require.Equal(t, OpClose, op)
	require.Equal(t, CloseGoingAway, binary.BigEndian.Uint16(got))
	require.Equal(t, "bye", string(got[2:]))
	_, err := r.ReadByte()
	require.ErrorIs(t, err, io.EOF)
}

func TestAppendCloseTruncatesReason(t *testing.T) {
	f := AppendClose(nil, CloseNormal, string(bytes.Repeat([]byte("r"), 300)))
	require.Equal(t, 2+125, len(f), "control frames carry at most 125 bytes")
}

func TestValidCloseCode(t *testing.T) {
	valid := []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}
	invalid := []uint16{0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}
	for _, c := range valid {
		require.True(t, ValidCloseCode(c), "%d", c)
	}
	for _, c := range invalid {
		require.False(t, ValidCloseCode(c), "%d", c)
	}
}

func TestAppendCloseWithoutStatus(t *testing.T) {
	require.Equal(t, []byte{0x88, 0}, AppendClose(nil, 0, "ignored"))
}
