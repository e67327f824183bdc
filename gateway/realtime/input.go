package realtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/queuecast/queuecast/gateway/sio"
)

type okAck struct {
	Success bool   `json:"success"`
	Room    string `json:"room,omitempty"`
}

type failAck struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
}

func ackOK(s *sio.Socket, ev *sio.Event, room string) {
	s.AckJSON(ev, okAck{Success: true, Room: room})
}

func fail(s *sio.Socket, ev *sio.Event, reason string) {
	s.AckJSON(ev, failAck{Success: false, Error: reason})
}

// input is an event's first argument, decoded as a JSON object.
type input map[string]json.RawMessage

var errNotObject = errors.New("invalid payload: expected an object")

// object decodes the first argument of ev. A missing argument is an empty
// object; anything but an object (or null) is an error.
func object(ev *sio.Event) (input, error) {
	if len(ev.Args) == 0 {
		return input{}, nil
	}
	raw := ev.Args[0]
	if string(raw) == "null" {
		return input{}, nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errNotObject
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, errNotObject
	}
	return in, nil
}

// str reads an identifier field: a string of at most max bytes without
// control characters.
func (in input) str(field string, required bool, max int) (string, error) {
	raw, ok := in[field]
	if !ok || string(raw) == "null" {
		if required {
			return "", fmt.Errorf("invalid payload: %s is required", field)
		}
		return "", nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("invalid payload: %s must be a string", field)
	}
	v = strings.TrimSpace(v)
	switch {
	case required && v == "":
		return "", fmt.Errorf("invalid payload: %s is required", field)
	case len(v) > max:
		return "", fmt.Errorf("invalid payload: %s is longer than %d bytes", field, max)
	case strings.ContainsFunc(v, isControl):
		return "", fmt.Errorf("invalid payload: %s contains control characters", field)
	}
	return v, nil
}

// text reads a free-text field, truncated to max bytes and sanitised: control
// characters other than newline and tab become spaces, invalid UTF-8 is
// replaced.
func (in input) text(field string, max int) (string, error) {
	raw, ok := in[field]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("invalid payload: %s must be a string", field)
	}
	return sanitize(v, max), nil
}

func sanitize(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
}

func isControl(r rune) bool { return unicode.IsControl(r) }

// Timestamp formats t as the contract's RFC 3339 with milliseconds, in UTC.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// Now is Timestamp(time.Now()).
func Now() string { return Timestamp(time.Now()) }
