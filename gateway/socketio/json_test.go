package socketio

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScanJSONMatchesValid(t *testing.T) {
	inputs := []string{
		``, ` `, `null`, `true`, `false`, `nul`, `truex`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e`, `1e+`, `1E-7`, `.5`,
		`""`, `"\u00e9"`, `"\u00g9"`, `"\q"`, "\"\x01\"", "\"\xff\"", `"abc`, `"\"`,
		`[]`, `[ ]`, `[1,]`, `[,1]`, `[1 2]`, `{}`, `{"a":1}`, `{"a":1,}`, `{"a"}`, `{1:2}`, `{"a":1 "b":2}`,
		` [1] `, "\t{\"a\":[true,false,null]}\r\n", `[1]]`, `[[[]]]`, `{"a":{"b":{}}}`, `1 2`, "\v1",
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
		strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
	}
	for _, in := range inputs {
		_, ok := scanJSON([]byte(in), nil)
		require.Equal(t, json.Valid([]byte(in)), ok, "%.40q", in)
	}
}

func TestScanJSONElems(t *testing.T) {
	var elems []json.RawMessage
	v, ok := scanJSON([]byte(` [ 1 ,"a", {"b" : [2]} ] `), &elems)
	require.True(t, ok)
	require.Equal(t, byte('['), v.kind)
	require.Equal(t, `1`, string(v.first))
	require.Equal(t, []json.RawMessage{raw(`1`), raw(`"a"`), raw(`{"b" : [2]}`)}, elems)
}
