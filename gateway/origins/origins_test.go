package origins

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAllows(t *testing.T) {
	s := MustParse("http://localhost:5173", "HTTPS://Example.COM:443", "http://[::1]:8080/")
	for origin, want := range map[string]bool{
		"http://localhost:5173":    true,
		"HTTP://LOCALHOST:5173":    true,
		"http://localhost:5174":    false,
		"https://localhost:5173":   false,
		"https://example.com":      true,
		"https://example.com:443":  true,
		"https://EXAMPLE.com":      true,
		"http://example.com":       false,
		"https://evil.example.com": false,
		"https://example.com.evil": false,
		"http://[::1]:8080":        true,
		"null":                     false,
		"":                         false,
		"http://localhost:5173/x":  false,
		"garbage":                  false,
	} {
		require.Equal(t, want, s.Allows(origin), origin)
	}
	any := MustParse("http://a.example", "*")
	for _, o := range []string{"null", "http://x.example", "garbage"} {
		require.True(t, any.Allows(o), o)
	}
	require.False(t, MustParse().Allows("http://localhost:5173"), "an empty list allows no browser origin")
}

func TestParseRefusesNonOrigins(t *testing.T) {
	for _, bad := range []string{
		"localhost:5173", "http://", "http://localhost:5173/app", "http://u@localhost", "http://localhost?x",
		"http://localhost#f", "null", "/relative", "http://[::1",
	} {
		_, err := Parse([]string{"http://ok.example", bad})
		require.ErrorIs(t, err, ErrBadOrigin, bad)
		require.ErrorContains(t, err, bad)
	}
	s, err := Parse([]string{"", " http://a.example ", ""})
	require.NoError(t, err)
	require.True(t, s.Allows("http://a.example"))
}
