package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A message repeated within the interval is logged once; the next line
// after the interval says how many were left out. Other messages pass.
func TestRepeatLimit(t *testing.T) {
	var buf bytes.Buffer
	h := newRepeatLimit(slog.NewTextHandler(&buf, nil), time.Hour)
	log := slog.New(h).With("lib", "x")
	for range 5 {
		log.Error("seed down")
	}
	log.Error("other")
	require.Equal(t, 1, strings.Count(buf.String(), "seed down"))
	require.Equal(t, 1, strings.Count(buf.String(), "other"))

	h.state.every = 0
	log.Error("seed down")
	require.Contains(t, buf.String(), "repeats_left_out=4")
}
