// Package origins decides which browser origins may use the server. The
// CORS middleware, the API's origin check and the Engine.IO handshake
// (polling and the WebSocket upgrade) all ask the same Set, so they accept
// exactly the same origins. A Set is immutable and safe for concurrent use.
package origins

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrBadOrigin is wrapped by Parse for an entry that is not an origin.
var ErrBadOrigin = errors.New("not an origin")

// Set is the allowed origins: "*" (any), or origins compared in their RFC
// 6454 serialisation (scheme and host in lower case, the scheme's default
// port left out), so "HTTP://Example.com:80" and "http://example.com" are
// one origin.
type Set struct {
	any   bool
	exact map[string]struct{}
}

// Parse builds a Set from a list of "*" and scheme://host[:port] entries.
// Empty entries are skipped; one trailing "/" is tolerated (a browser's
// address bar shows it); a path, query, fragment or user info is refused,
// as is "null", which is no one origin.
func Parse(list []string) (Set, error) {
	s := Set{exact: make(map[string]struct{}, len(list))}
	for _, raw := range list {
		o := strings.TrimSpace(raw)
		switch o {
		case "":
			continue
		case "*":
			s.any = true
			continue
		}
		key, err := serialise(strings.TrimSuffix(o, "/"))
		if err != nil {
			return Set{}, fmt.Errorf("origin %q: %w", raw, err)
		}
		s.exact[key] = struct{}{}
	}
	return s, nil
}

// MustParse is Parse for lists known to be valid; it panics otherwise.
func MustParse(list ...string) Set {
	s, err := Parse(list)
	if err != nil {
		panic(err)
	}
	return s
}

// Allows reports whether a request's Origin header may use the server.
// The header itself is the caller's to skip when absent.
func (s Set) Allows(origin string) bool {
	if s.any {
		return true
	}
	if _, ok := s.exact[origin]; ok { // browsers send the serialised form
		return true
	}
	key, err := serialise(origin)
	if err != nil {
		return false
	}
	_, ok := s.exact[key]
	return ok
}

// serialise returns an origin's RFC 6454 serialisation.
func serialise(o string) (string, error) {
	if o == "null" {
		return "", fmt.Errorf("%w: the opaque origin null cannot be allowed by name (use *)", ErrBadOrigin)
	}
	u, err := url.Parse(o)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadOrigin, err)
	}
	switch {
	case u.Scheme == "" || u.Host == "" || u.Opaque != "":
		return "", fmt.Errorf("%w: want scheme://host[:port]", ErrBadOrigin)
	case u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.HasSuffix(o, "#"):
		return "", fmt.Errorf("%w: an origin has no user info, path, query or fragment", ErrBadOrigin)
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if port == defaultPort[scheme] {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, nil
	}
	return scheme + "://" + host, nil
}

var defaultPort = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443"}
