//go:build !linux

package transport

import (
	"errors"
	"net"
	"syscall"
)

type rawWriter struct{}

func newRawWriter() *rawWriter { return &rawWriter{} }

var errNoRawWrite = errors.New("transport: no raw writes on this platform")

func (w *rawWriter) writeNow(syscall.RawConn, net.Buffers) (int, error) { return 0, errNoRawWrite }

const rawWrites = false
