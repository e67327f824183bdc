package transport

import (
	"testing"

	"github.com/stretchr/testify/require"
)

type owners map[uint32]string

func (o owners) Owner(tag uint32) (string, bool) { a, ok := o[tag]; return a, ok }

// A session id names its owner by its tag: this node's own tag, a tag of
// no live node and an id with no tag have no owner to forward to.
func TestForwarderFindsTheOwnerByTag(t *testing.T) {
	f := newForwarder(ClusterConfig{Tag: 36*36 + 1, Owners: owners{7: "10.0.0.7:5000"}, Secret: []byte("s")}, Config{}.withDefaults())
	require.Equal(t, "101.", f.sessionPrefix())
	for sid, want := range map[string]string{
		"7.AAAA":                     "10.0.0.7:5000",
		"101.AAAA":                   "", // this node's
		"8.AAAA":                     "", // no live node
		"AAAAAAAAAAAAAAAAAAAA":       "", // a single node's id
		".AAAA":                      "",
		"zzzzzzzzzzzzzzzzzzzzz.AAAA": "", // overflows 32 bits
		"7x.AAAA":                    "",
	} {
		got, ok := f.owner(sid)
		require.Equal(t, want, got, sid)
		require.Equal(t, want != "", ok, sid)
	}
}
