package api

import _ "embed"

// openAPI is the hand-written OpenAPI 3 document of the HTTP routes, served
// at GET /api/openapi.json.
//
//go:embed openapi.json
var openAPI []byte
