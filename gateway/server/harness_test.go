package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/queuecast/queuecast/persistence/pgtest"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/gateway/limits"
	"github.com/queuecast/queuecast/gateway/server"
	"github.com/queuecast/queuecast/persistence"
)

// harness is a queuecast server in-process on a random port.
type harness struct {
	t      *testing.T
	srv    *server.Server
	base   string
	auth   *auth.Authority
	admin  string
	staff  string
	client *http.Client
}

func sqliteDB(t *testing.T) persistence.Config {
	return persistence.Config{DataDir: filepath.Join(t.TempDir(), "data")}
}

// postgresDB is a fresh schema in the test database, dropped at the end.
// It skips when PostgreSQL is unreachable, unless CI=true.
func postgresDB(t *testing.T) persistence.Config {
	t.Helper()
	return persistence.Config{DatabaseURL: pgtest.DSN(t), MaxOpenConns: 16}
}

func start(t *testing.T, cfg server.Config) *harness {
	t.Helper()
	a := auth.NewAuthority([]byte("test-secret-test-secret-test-secret"))
	cfg.Auth = a
	if cfg.Node == "" {
		cfg.Node = "test"
	}
	if cfg.Limits == (limits.Config{}) {
		// Tests fire hundreds of requests and sockets from one address;
		// the limits have tests of their own (limits_test.go).
		cfg.Limits = limits.Off()
	}
	srv, err := server.New(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	h := &harness{t: t, srv: srv, base: "http://" + ln.Addr().String(), auth: a,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200}}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		h.client.CloseIdleConnections()
	})
	h.admin = h.token(auth.Identity{UserID: "admin-1", Role: auth.RoleAdmin})
	h.staff = h.token(auth.Identity{UserID: "staff-1", Role: auth.RoleStaff})
	return h
}

func (h *harness) token(id auth.Identity) string {
	tok, err := h.auth.Issue(id, time.Hour)
	require.NoError(h.t, err)
	return tok
}

// do sends a request and returns the status and the raw body. body may be
// a string (sent as is) or a value encoded as JSON.
func (h *harness) do(method, path, token string, body any) (int, []byte) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			panic(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.base+path, r)
	if err != nil {
		panic(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := h.client.Do(req)
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		panic(err)
	}
	return res.StatusCode, out
}

// expect sends a request, requires the status and decodes the body into v
// (when not nil).
func (h *harness) expect(status int, method, path, token string, body, v any) {
	h.t.Helper()
	code, out := h.do(method, path, token, body)
	require.Equalf(h.t, status, code, "%s %s: %s", method, path, out)
	if v != nil {
		require.NoError(h.t, json.Unmarshal(out, v), string(out))
	}
}

type ticket struct {
	ID                   string  `json:"id"`
	Number               int     `json:"number"`
	DisplayNumber        string  `json:"displayNumber"`
	ServiceType          string  `json:"serviceType"`
	Status               string  `json:"status"`
	Priority             string  `json:"priority"`
	UserID               *string `json:"userId"`
	CounterID            *string `json:"counterId"`
	Position             *int    `json:"position"`
	EstimatedWaitSeconds *int    `json:"estimatedWaitSeconds"`
	RecallCount          int     `json:"recallCount"`
}

type counter struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	Services        []string `json:"services"`
	Status          string   `json:"status"`
	CurrentTicketID *string  `json:"currentTicketId"`
}

type created struct {
	Ticket ticket `json:"ticket"`
	Token  string `json:"token"`
}

type moved struct {
	Ticket  ticket  `json:"ticket"`
	Counter counter `json:"counter"`
}

// counters returns the counters by name.
func (h *harness) counters() map[string]counter {
	var l struct{ Items []counter }
	h.expect(200, "GET", "/api/counters", "", nil, &l)
	m := map[string]counter{}
	for _, c := range l.Items {
		m[c.Name] = c
	}
	return m
}

func (h *harness) create(service, token string) created {
	h.t.Helper()
	var c created
	h.expect(201, "POST", "/api/tickets", token, map[string]any{"serviceType": service}, &c)
	return c
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
