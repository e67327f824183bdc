package rooms

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The names are the contract's (shared/spec/contract.md, "room joined").
func TestRoomNamesAreTheContracts(t *testing.T) {
	require.Equal(t, "dashboard", Dashboard)
	require.Equal(t, "service-Finance", Service("Finance"))
	require.Equal(t, "counter-c1", Counter("c1"))
	require.Equal(t, "user-u1", User("u1"))
	require.Equal(t, "", All)
}
