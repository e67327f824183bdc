package cluster

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"

	"github.com/queuecast/queuecast/actors/queue"
	"github.com/queuecast/queuecast/persistence"
)

// The queue front-door methods a QueueCall may name. A method this node
// does not know is refused with errUnknownMethod, so a newer node's call is
// answered "nothing done" by an older one.
const (
	mServiceExists    = "serviceExists"
	mCounterExists    = "counterExists"
	mServices         = "services"
	mCounterList      = "counterList"
	mStates           = "states"
	mFill             = "fill"
	mMetrics          = "metrics"
	mCheckDay         = "checkDay"
	mAddService       = "addService"
	mAddCounter       = "addCounter"
	mSetCounterStatus = "setCounterStatus"
	mCreateTicket     = "createTicket"
	mCallNext         = "callNext"
	mCancel           = "cancel"
	mMove             = "move"
)

// readOnly methods change nothing, so a call lost with its node is simply
// asked again of the next owner.
var readOnly = map[string]bool{
	mServiceExists: true, mCounterExists: true, mServices: true, mCounterList: true,
	mStates: true, mFill: true, mMetrics: true,
}

// callArgs carries any method's arguments; each method reads its own.
type callArgs struct {
	Name, Service, Counter, TicketID, To, Kind, User string
	Services                                         []string
	Priority                                         persistence.Priority
	MaxActive                                        int
	Status                                           persistence.CounterStatus
	NewService                                       persistence.NewService
	By                                               persistence.Stamp
	Ticket                                           persistence.Ticket
}

// callResult carries any method's result.
type callResult struct {
	Bool     bool
	Replayed bool
	Ticket   persistence.Ticket
	Counter  persistence.Counter
	Service  persistence.Service
	Services []persistence.Service
	Counters []persistence.Counter
	States   []queue.State
	Metrics  queue.Metrics
}

var (
	errNotOwner      = errors.New("cluster: this node does not hold the queue actors")
	errUnknownMethod = fmt.Errorf("cluster: unknown queue method: %w", queue.ErrTimeout)
)

// serveLocal runs a call against this node's queue actors.
func serveLocal(ctx context.Context, q *queue.Queues, method string, a *callArgs) (*callResult, error) {
	r := &callResult{}
	var err error
	switch method {
	case mServiceExists:
		r.Bool = q.ServiceExists(a.Name)
	case mCounterExists:
		r.Bool = q.CounterExists(a.Counter)
	case mServices:
		r.Services = q.Services()
	case mCounterList:
		r.Counters = q.CounterList()
	case mStates:
		r.States = q.States()
	case mFill:
		r.Ticket = a.Ticket
		q.Fill(&r.Ticket)
	case mMetrics:
		r.Metrics, err = q.Metrics(ctx)
	case mCheckDay:
		q.CheckDay()
	case mAddService:
		r.Service, err = q.AddService(ctx, a.NewService)
	case mAddCounter:
		r.Counter, err = q.AddCounter(ctx, a.Name, a.Services, a.Status)
	case mSetCounterStatus:
		r.Counter, err = q.SetCounterStatus(ctx, a.Counter, a.Status, a.By)
	case mCreateTicket:
		r.Ticket, r.Replayed, err = q.CreateTicket(ctx, a.Service, a.User, a.Priority, a.MaxActive, a.By)
	case mCallNext:
		r.Ticket, r.Counter, r.Replayed, err = q.CallNext(ctx, a.Counter, a.By)
	case mCancel:
		r.Ticket, err = q.Cancel(ctx, a.Service, a.TicketID, a.By)
	case mMove:
		r.Ticket, err = q.Move(ctx, a.Kind, a.Counter, a.TicketID, a.To, a.By)
	default:
		err = errUnknownMethod
	}
	return r, err
}

func encodeGob(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func decodeGob(b []byte, v any) error { return gob.NewDecoder(bytes.NewReader(b)).Decode(v) }

// sentinels name the errors a reply can carry, the more specific first:
// the caller gets an error with the owner's message that Is the same
// sentinel, so gateway/api answers as it would on the owner.
var sentinels = []struct {
	code string
	err  error
}{
	{"nothing_waiting", queue.ErrNothingWaiting},
	{"call_in_progress", queue.ErrCallInProgress},
	{"unknown_service", queue.ErrUnknownService},
	{"unknown_counter", queue.ErrUnknownCounter},
	{"unanswered", queue.ErrUnanswered},
	{"timeout", queue.ErrTimeout},
	{"key_reused", persistence.ErrKeyReused},
	{"illegal_move", persistence.ErrIllegalMove},
	{"counter_busy", persistence.ErrCounterBusy},
	{"counter_not_open", persistence.ErrCounterNotOpen},
	{"not_counter_service", persistence.ErrNotCounterService},
	{"service_inactive", persistence.ErrServiceInactive},
	{"too_many_active", persistence.ErrTooManyActive},
	{"outcome_unknown", persistence.ErrOutcomeUnknown},
	{"not_found", persistence.ErrNotFound},
	{"duplicate", persistence.ErrDuplicate},
	{"conflict", persistence.ErrConflict},
	{"invalid", persistence.ErrInvalid},
	{"unavailable", persistence.ErrUnavailable},
	{"internal", persistence.ErrInternal},
}

const codeNotOwner = "not_owner"

func errorCode(err error) string {
	if errors.Is(err, errNotOwner) {
		return codeNotOwner
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	return "internal"
}

// remoteError is an error the owner answered: its message, and the
// sentinel it stands for.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

func decodeError(code, msg string) error {
	if code == codeNotOwner {
		return errNotOwner
	}
	for _, s := range sentinels {
		if s.code == code {
			return &remoteError{msg: msg, sentinel: s.err}
		}
	}
	return &remoteError{msg: msg, sentinel: persistence.ErrInternal}
}
