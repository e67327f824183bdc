package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/queuecast/queuecast/actors/cluster/wire"
	"github.com/queuecast/queuecast/actors/queue"
	"github.com/queuecast/queuecast/persistence"
)

// A member leaving moves the queue domain only when it was the owner, and
// every node computes the same owner whatever the order of its list.
func TestQueueOwnerRendezvous(t *testing.T) {
	members := []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000", "10.0.0.4:7000"}
	owner := ownerOf(members)
	require.Equal(t, owner, ownerOf([]string{members[3], members[1], members[0], members[2]}))
	for i, m := range members {
		rest := append(append([]string{}, members[:i]...), members[i+1:]...)
		if m == owner {
			require.NotEqual(t, owner, ownerOf(rest))
		} else {
			require.Equal(t, owner, ownerOf(rest), "%s left", m)
		}
	}
	require.Empty(t, ownerOf(nil))
}

// The owner's failure answers keep their sentinel across the hop, so
// gateway/api answers as it would on the owner.
func TestQueueErrorsCrossNodes(t *testing.T) {
	for _, err := range []error{
		queue.ErrNothingWaiting, queue.ErrCallInProgress, fmt.Errorf("x: %w", queue.ErrUnknownService),
		queue.ErrTimeout, persistence.ErrKeyReused, persistence.ErrTooManyActive, persistence.ErrCounterNotOpen,
	} {
		got := decodeError(errorCode(err), err.Error())
		require.Equal(t, err.Error(), got.Error())
		for _, s := range sentinels {
			require.Equal(t, errors.Is(err, s.err), errors.Is(got, s.err), "%v Is %v", err, s.err)
		}
	}
	require.ErrorIs(t, decodeError("from-a-newer-node", "?"), persistence.ErrInternal)
}

// silentNode is a membership and relay that records the calls sent to
// other nodes and answers none.
type silentNode struct {
	self string
	mu   sync.Mutex
	sent []*wire.QueueCall
	fns  []func([]string)
}

func (n *silentNode) Self() string                    { return n.self }
func (n *silentNode) Watch(fn func(members []string)) { n.fns = append(n.fns, fn) }
func (n *silentNode) Send(_ string, env *wire.Envelope) {
	var m wire.QueueCall
	if proto.Unmarshal(env.Payload, &m) == nil {
		n.mu.Lock()
		n.sent = append(n.sent, &m)
		n.mu.Unlock()
	}
}

func (n *silentNode) calls() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.sent)
}

// A command whose owner leaves before it answers answers ErrUnanswered at
// once (its outcome is unknown), without waiting out its deadline; a
// ticket creation with an Idempotency-Key is asked again of the next
// owner instead, under the same key.
func TestQueueCallOwnerLost(t *testing.T) {
	// Two members, neither of them this node, so no queue actors load here.
	self := &silentNode{self: "self:1"}
	q := NewQueues(queue.Config{Logger: slog.New(slog.DiscardHandler)}, self, self)
	a, b := "a:1", "b:1"
	q.setMembers([]string{a, b})
	first := q.Owner()
	other := a
	if first == a {
		other = b
	}

	done := make(chan error, 1)
	go func() {
		_, err := q.SetCounterStatus(context.Background(), "k1", persistence.CounterOpen, persistence.Stamp{})
		done <- err
	}()
	require.Eventually(t, func() bool { return self.calls() == 1 }, 5*time.Second, time.Millisecond)
	began := time.Now()
	q.setMembers([]string{other})
	select {
	case err := <-done:
		require.ErrorIs(t, err, queue.ErrUnanswered)
		require.Less(t, time.Since(began), time.Second)
	case <-time.After(5 * time.Second):
		t.Fatal("the call waited for a node that left")
	}

	q.setMembers([]string{a, b})
	key := persistence.Stamp{Request: persistence.Idempotency{Scope: "s", Key: "k", Fingerprint: "f"}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		_, _, err := q.CreateTicket(ctx, "Finance", "u1", persistence.PriorityNormal, 0, key)
		done <- err
	}()
	require.Eventually(t, func() bool { return self.calls() == 2 }, 5*time.Second, time.Millisecond)
	q.setMembers([]string{other})
	require.Eventually(t, func() bool { return self.calls() == 3 }, 5*time.Second, time.Millisecond, "asked again of the next owner")
	self.mu.Lock()
	retry := self.sent[2]
	self.mu.Unlock()
	require.Equal(t, mCreateTicket, retry.Method)
	var args callArgs
	require.NoError(t, decodeGob(retry.Args, &args))
	require.Equal(t, key.Request, args.By.Request, "the same Idempotency-Key")
	cancel()
}
