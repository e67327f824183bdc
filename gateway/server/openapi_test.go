package server_test

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/server"
)

// TestOpenAPIMatchesRoutes checks that the OpenAPI document and the routes
// the server registers name the same operations, in both directions.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	h := start(t, server.Config{Database: sqliteDB(t)})
	var doc struct {
		Paths map[string]map[string]any
	}
	h.expect(200, "GET", "/api/openapi.json", "", nil, &doc)

	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "patch", "put", "delete":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	param := regexp.MustCompile(`:([A-Za-z]+)`)
	registered := map[string]bool{}
	for _, r := range h.srv.App.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/") || r.Method == "HEAD" || r.Method == "OPTIONS" || r.Method == "CONNECT" || r.Method == "TRACE" {
			continue
		}
		if r.Path == "/api/openapi.json" || strings.HasSuffix(r.Path, "/") || strings.Contains(r.Path, "*") {
			continue
		}
		registered[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	var undocumented, stale []string
	for op := range registered {
		if !documented[op] {
			undocumented = append(undocumented, op)
		}
	}
	for op := range documented {
		if strings.HasPrefix(strings.SplitN(op, " ", 2)[1], "/api/") && op != "GET /api/openapi.json" && !registered[op] {
			stale = append(stale, op)
		}
	}
	sort.Strings(undocumented)
	sort.Strings(stale)
	require.Empty(t, undocumented, "routes missing from openapi.json")
	require.Empty(t, stale, "openapi.json operations with no route")
}
