// Package api is queuecast's HTTP API on Fiber v2: health, readiness,
// Prometheus metrics, CORS, bearer-token auth and the admin routes. Handlers
// decode and validate JSON at the edge and talk to actors with typed
// messages; they hold no state of their own.
package api
