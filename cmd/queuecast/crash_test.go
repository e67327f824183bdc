package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/queuecast/queuecast/persistence/pgtest"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/auth"
)

// childEnv makes the test binary run queuecast serve instead of the tests:
// the crash test execs itself as the server process it kills.
const childEnv = "QUEUECAST_TEST_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Args = []string{"queuecast", "serve"}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const crashSecret = "crash-test-secret-crash-test-secret"

// process is one queuecast server process on a DATA_DIR.
type process struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	log  *bytes.Buffer
	done chan struct{}
}

// startProcess starts a server; env adds variables (NAME=value).
func startProcess(t *testing.T, dataDir, databaseURL string, env ...string) *process {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())

	p := &process{t: t, base: "http://127.0.0.1:" + strconv.Itoa(port), log: &bytes.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), childEnv+"=1", "DATA_DIR="+dataDir, "JWT_SECRET="+crashSecret,
		"PORT="+strconv.Itoa(port), "LOG_LEVEL=warn", "NODE_NAME=crash", "DATABASE_URL="+databaseURL)
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	require.NoError(t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("server log:\n%s", p.log.String())
		}
	})
	require.Eventually(t, func() bool {
		res, err := http.Get(p.base + "/ready")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == 200
	}, 15*time.Second, 20*time.Millisecond, "server did not become ready")
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
}

var crashClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// call sends a request; err is a transport failure (the process died).
func call(ctx context.Context, base, method, path, token string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := crashClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

type crashTicket struct {
	ID            string  `json:"id"`
	Number        int     `json:"number"`
	DisplayNumber string  `json:"displayNumber"`
	ServiceType   string  `json:"serviceType"`
	Status        string  `json:"status"`
	CounterID     *string `json:"counterId"`
}

type crashCounter struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	CurrentTicketID *string `json:"currentTicketId"`
}

// A server killed with SIGKILL in the middle of creation load (with calls and
// completions going on) and restarted on the same DATA_DIR has every ticket
// whose creation got a 201, has never repeated a number, and no counter holds
// a ticket that is not serving there. Moves answered 200 are durable too, and
// numbering goes on after the highest number issued.
func TestSIGKILLDuringLoadKeepsInvariants(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	t.Run("sqlite", func(t *testing.T) { testSIGKILL(t, "") })
	t.Run("postgres", func(t *testing.T) { testSIGKILL(t, pgtest.DSN(t)) })
}

func testSIGKILL(t *testing.T, databaseURL string) {
	dataDir := t.TempDir()
	authority := auth.NewAuthority([]byte(crashSecret))
	staff, err := authority.Issue(auth.Identity{UserID: "staff-crash", Role: auth.RoleStaff}, time.Hour)
	require.NoError(t, err)

	p := startProcess(t, dataDir, databaseURL)
	var counters struct{ Items []crashCounter }
	code, out, err := call(context.Background(), p.base, "GET", "/api/counters", "", nil)
	require.NoError(t, err)
	require.Equal(t, 200, code, string(out))
	require.NoError(t, json.Unmarshal(out, &counters))
	require.NotEmpty(t, counters.Items)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var (
		mu        sync.Mutex
		created   = map[string]crashTicket{} // 201s
		called    = map[string]bool{}        // call-next 200s
		completed = map[string]bool{}        // complete 200s
		wg        sync.WaitGroup
		n201      atomic.Int64
	)
	services := []string{"Finance", "Registrar", "Admissions"}
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				code, out, err := call(ctx, p.base, "POST", "/api/tickets", "", map[string]any{"serviceType": services[(w+i)%3]})
				if err != nil || code != 201 {
					continue // the process is being killed, or already gone
				}
				var c struct{ Ticket crashTicket }
				if json.Unmarshal(out, &c) != nil {
					continue // a body cut short by the kill
				}
				mu.Lock()
				created[c.Ticket.ID] = c.Ticket
				mu.Unlock()
				n201.Add(1)
			}
		})
	}
	for _, c := range counters.Items {
		wg.Go(func() {
			for ctx.Err() == nil {
				code, out, err := call(ctx, p.base, "POST", "/api/counters/"+c.ID+"/call-next", staff, nil)
				if err != nil || code != 200 {
					continue
				}
				var m struct{ Ticket crashTicket }
				if json.Unmarshal(out, &m) != nil {
					continue
				}
				mu.Lock()
				called[m.Ticket.ID] = true
				mu.Unlock()
				code, _, err = call(ctx, p.base, "POST", "/api/tickets/"+m.Ticket.ID+"/complete", staff, nil)
				if err == nil && code == 200 {
					mu.Lock()
					completed[m.Ticket.ID] = true
					mu.Unlock()
				}
			}
		})
	}
	// Kill mid-load: once enough tickets are in, while the workers still
	// send.
	require.Eventually(t, func() bool { return n201.Load() >= 300 }, 15*time.Second, 5*time.Millisecond)
	p.kill()
	stop()
	wg.Wait()
	t.Logf("killed after %d tickets created, %d called, %d completed", len(created), len(called), len(completed))

	p = startProcess(t, dataDir, databaseURL)
	all := map[string]crashTicket{}
	for offset := 0; ; offset += 1000 {
		var page struct {
			Items []crashTicket
			Total int
		}
		code, out, err := call(context.Background(), p.base, "GET", fmt.Sprintf("/api/tickets?limit=1000&offset=%d", offset), staff, nil)
		require.NoError(t, err)
		require.Equal(t, 200, code, string(out))
		require.NoError(t, json.Unmarshal(out, &page))
		for _, tk := range page.Items {
			all[tk.ID] = tk
		}
		if offset+1000 >= page.Total {
			require.Len(t, all, page.Total)
			break
		}
	}

	// Every 201 is there, as it was answered.
	for id, want := range created {
		got, ok := all[id]
		require.True(t, ok, "ticket %s (%s) answered 201 but is gone", id, want.DisplayNumber)
		require.Equal(t, want.DisplayNumber, got.DisplayNumber)
		require.Equal(t, want.Number, got.Number)
	}
	// Moves answered 200 are durable.
	for id := range called {
		require.NotEqual(t, "waiting", all[id].Status, "ticket %s was called, but waits again", id)
	}
	for id := range completed {
		require.Equal(t, "completed", all[id].Status, "ticket %s", id)
	}
	// No number is repeated (one service day, one prefix per service).
	seen := map[string]string{}
	highest := map[string]int{}
	for id, tk := range all {
		if other, dup := seen[tk.DisplayNumber]; dup {
			t.Fatalf("number %s held by tickets %s and %s", tk.DisplayNumber, other, id)
		}
		seen[tk.DisplayNumber] = id
		highest[tk.ServiceType] = max(highest[tk.ServiceType], tk.Number)
	}
	// No counter holds a ticket that is not serving there, and every serving
	// ticket is held by its counter.
	code, out, err = call(context.Background(), p.base, "GET", "/api/counters", "", nil)
	require.NoError(t, err)
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(out, &counters))
	holds := map[string]string{}
	for _, c := range counters.Items {
		if c.CurrentTicketID == nil {
			continue
		}
		tk, ok := all[*c.CurrentTicketID]
		require.True(t, ok, "counter %s holds unknown ticket %s", c.Name, *c.CurrentTicketID)
		require.Equal(t, "serving", tk.Status, "counter %s holds %s", c.Name, tk.DisplayNumber)
		require.NotNil(t, tk.CounterID)
		require.Equal(t, c.ID, *tk.CounterID)
		holds[tk.ID] = c.ID
	}
	for id, tk := range all {
		if tk.Status == "serving" {
			require.Equal(t, *tk.CounterID, holds[id], "serving ticket %s is not held by its counter", tk.DisplayNumber)
		}
	}

	// The restarted server numbers on after the highest number ever issued,
	// and calls what still waits.
	for _, svc := range services {
		code, out, err := call(context.Background(), p.base, "POST", "/api/tickets", "", map[string]any{"serviceType": svc})
		require.NoError(t, err)
		require.Equal(t, 201, code, string(out))
		var c struct{ Ticket crashTicket }
		require.NoError(t, json.Unmarshal(out, &c))
		require.Equal(t, highest[svc]+1, c.Ticket.Number, svc)
	}
	for _, c := range counters.Items {
		if c.CurrentTicketID != nil {
			code, out, err = call(context.Background(), p.base, "POST", "/api/tickets/"+*c.CurrentTicketID+"/complete", staff, nil)
			require.NoError(t, err)
			require.Equal(t, 200, code, string(out))
		}
		code, out, err = call(context.Background(), p.base, "POST", "/api/counters/"+c.ID+"/call-next", staff, nil)
		require.NoError(t, err)
		require.Equal(t, 200, code, string(out))
	}
}
