package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/queuecast/queuecast/actors/queue"
	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/persistence"
)

// Token lifetimes.
const (
	customerTokenTTL = 24 * time.Hour
	loginTokenTTL    = 12 * time.Hour
	// defaultRequestTimeout is Config.RequestTimeout's default.
	defaultRequestTimeout = 10 * time.Second
	maxNameLen            = 100
)

// mountQueue registers the queue domain routes.
func (a *API) mountQueue(app *fiber.App) {
	staff := a.require(auth.RoleAdmin, auth.RoleStaff)
	admin := a.require(auth.RoleAdmin)
	app.Get("/api/openapi.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(openAPI)
	})
	app.Post("/api/auth/login", a.login)
	app.Post("/api/users", admin, a.createUser)
	app.Get("/api/services", a.listServices)
	app.Post("/api/services", admin, a.createService)
	app.Get("/api/counters", a.listCounters)
	app.Post("/api/counters", admin, a.createCounter)
	app.Patch("/api/counters/:id", staff, a.patchCounter)
	app.Post("/api/counters/:id/call-next", staff, a.callNext)
	app.Get("/api/queues", a.listQueues)
	app.Post("/api/tickets", a.createTicket)
	app.Get("/api/tickets", staff, a.listTickets)
	app.Get("/api/tickets/:id", a.getTicket)
	app.Post("/api/tickets/:id/cancel", a.cancelTicket)
	for _, k := range []string{queue.Complete, queue.NoShow, queue.Recall, queue.Transfer} {
		app.Post("/api/tickets/:id/"+k, staff, a.moveTicket(k))
	}
}

// domainError maps store and queue errors to HTTP; the messages are the
// sentinels' own, which never carry SQL.
func domainError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, queue.ErrNothingWaiting):
		return fiber.NewError(fiber.StatusNotFound, queue.ErrNothingWaiting.Error())
	case errors.Is(err, persistence.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, "not found")
	case errors.Is(err, persistence.ErrDuplicate):
		return fiber.NewError(fiber.StatusConflict, "already exists")
	case errors.Is(err, persistence.ErrKeyReused):
		return fiber.NewError(fiber.StatusUnprocessableEntity, "Idempotency-Key was used for a different request")
	case errors.Is(err, queue.ErrCallInProgress):
		return fiber.NewError(fiber.StatusConflict, "a call is already in progress at this counter")
	case errors.Is(err, persistence.ErrTooManyActive):
		return fiber.NewError(fiber.StatusTooManyRequests, "too many active tickets for this user")
	case errors.Is(err, persistence.ErrConflict):
		for _, e := range []error{persistence.ErrCounterNotOpen, persistence.ErrCounterBusy, persistence.ErrNotCounterService, persistence.ErrServiceInactive, persistence.ErrIllegalMove} {
			if errors.Is(err, e) {
				return fiber.NewError(fiber.StatusConflict, strings.TrimSuffix(e.Error(), ": conflict"))
			}
		}
		return fiber.NewError(fiber.StatusConflict, "conflict")
	case errors.Is(err, persistence.ErrInvalid):
		return fiber.NewError(fiber.StatusBadRequest, "invalid input")
	case errors.Is(err, queue.ErrUnanswered):
		return fiber.NewError(fiber.StatusServiceUnavailable, "the queue node was lost before it answered; the outcome is unknown: retry with the same Idempotency-Key")
	case errors.Is(err, persistence.ErrUnavailable):
		// Nothing was done (see queue.Queues); a retry may succeed.
		return fiber.NewError(fiber.StatusServiceUnavailable, "service unavailable, nothing was changed: retry later")
	case errors.Is(err, persistence.ErrInternal):
		// The store logged the cause once; the answer does not repeat it.
		return fiber.NewError(fiber.StatusInternalServerError, "internal server error")
	}
	return err
}

func bad(msg string) error { return fiber.NewError(fiber.StatusBadRequest, msg) }

// storeCtx bounds a handler's own reads and writes and its commands to the
// queue actors: the request's time (RequestTimeout).
func (a *API) storeCtx() (context.Context, context.CancelFunc) {
	d := a.cfg.RequestTimeout
	if d <= 0 {
		d = defaultRequestTimeout
	}
	return context.WithTimeout(context.Background(), d)
}

// HeaderIdempotencyKey names a request so that its retry is not done twice
// (POST /api/tickets, call-next); HeaderIdempotentReplayed marks the answer
// to such a retry.
const (
	HeaderIdempotencyKey     = "Idempotency-Key"
	HeaderIdempotentReplayed = "Idempotent-Replayed"
)

// idempotency reads the request's Idempotency-Key: 1 to 255 visible ASCII
// characters. It is scoped to the route and the caller, so two callers'
// keys never meet; fingerprint is the request's parameters.
func idempotency(c *fiber.Ctx, route string, params ...string) (persistence.Idempotency, error) {
	key := c.Get(HeaderIdempotencyKey)
	if key == "" {
		return persistence.Idempotency{}, nil
	}
	if len(key) > persistence.MaxIdempotencyKeyLen {
		return persistence.Idempotency{}, bad("Idempotency-Key must be 1 to 255 visible ASCII characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return persistence.Idempotency{}, bad("Idempotency-Key must be 1 to 255 visible ASCII characters")
		}
	}
	caller := IdentityOf(c)
	sum := sha256.New()
	for _, p := range params {
		_, _ = fmt.Fprintf(sum, "%d:%s", len(p), p)
	}
	return persistence.Idempotency{
		Scope: route + " " + string(caller.Role) + ":" + caller.UserID, Key: strings.Clone(key),
		Fingerprint: hex.EncodeToString(sum.Sum(nil)),
	}, nil
}

func stampOf(c *fiber.Ctx) persistence.Stamp { return persistence.Stamp{Actor: IdentityOf(c).UserID} }

func list[T any](items []T, total int) fiber.Map {
	if items == nil {
		items = []T{}
	}
	return fiber.Map{"items": items, "total": total}
}

type loginRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

func (a *API) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.Username == nil || *req.Username == "":
		return bad("username is required")
	case req.Password == nil || *req.Password == "":
		return bad("password is required")
	}
	ctx, cancel := a.storeCtx()
	defer cancel()
	u, err := a.cfg.Store.GetUserByUsername(ctx, *req.Username)
	if errors.Is(err, persistence.ErrNotFound) || (err == nil && bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(*req.Password)) != nil) {
		return fiber.NewError(fiber.StatusUnauthorized, "invalid username or password")
	}
	if err != nil {
		return domainError(err)
	}
	id := auth.Identity{UserID: u.ID, Role: auth.Role(u.Role)}
	if u.CounterID != nil {
		id.CounterID = *u.CounterID
	}
	tok, err := a.cfg.Auth.Issue(id, loginTokenTTL)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"token": tok, "user": fiber.Map{"id": u.ID, "username": u.Username, "role": u.Role}})
}

type userRequest struct {
	Username  string  `json:"username"`
	Password  string  `json:"password"`
	Role      *string `json:"role"`
	CounterID *string `json:"counterId"`
}

func (a *API) createUser(c *fiber.Ctx) error {
	var req userRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	role := persistence.RoleStaff
	if req.Role != nil {
		role = persistence.Role(*req.Role)
	}
	switch {
	case strings.TrimSpace(req.Username) == "" || len(req.Username) > maxNameLen:
		return bad("username is required (at most 100 bytes)")
	case len(req.Password) < 8 || len(req.Password) > 72:
		return bad("password must be 8 to 72 bytes")
	case role != persistence.RoleStaff && role != persistence.RoleAdmin:
		return bad("role must be staff or admin")
	case req.CounterID != nil && !a.cfg.Queues.CounterExists(*req.CounterID):
		return bad("counterId names no counter")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	ctx, cancel := a.storeCtx()
	defer cancel()
	u, err := a.cfg.Store.CreateUser(ctx, persistence.NewUser{Username: req.Username, PasswordHash: string(hash), Role: role, CounterID: req.CounterID})
	if err != nil {
		return domainError(err)
	}
	return c.Status(fiber.StatusCreated).JSON(u)
}

func (a *API) listServices(c *fiber.Ctx) error {
	s := a.cfg.Queues.Services()
	return c.JSON(list(s, len(s)))
}

type serviceRequest struct {
	Name                  string `json:"name"`
	Prefix                string `json:"prefix"`
	DefaultServiceSeconds int    `json:"defaultServiceSeconds"`
	TargetWaitSeconds     int    `json:"targetWaitSeconds"`
}

func (a *API) createService(c *fiber.Ctx) error {
	var req serviceRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(req.Name) == "" || len(req.Name) > maxNameLen:
		return bad("name is required (at most 100 bytes)")
	case !validPrefix(req.Prefix):
		return bad("prefix must be 1 to 3 letters")
	case req.DefaultServiceSeconds < 0 || req.DefaultServiceSeconds > 86400:
		return bad("defaultServiceSeconds must be 0 to 86400")
	case req.TargetWaitSeconds < 0 || req.TargetWaitSeconds > 86400:
		return bad("targetWaitSeconds must be 0 to 86400")
	}
	ctx, cancel := a.storeCtx()
	defer cancel()
	s, err := a.cfg.Queues.AddService(ctx, persistence.NewService{Name: req.Name, Prefix: strings.ToUpper(req.Prefix),
		DefaultServiceSeconds: req.DefaultServiceSeconds, TargetWaitSeconds: req.TargetWaitSeconds})
	if err != nil {
		return domainError(err)
	}
	return c.Status(fiber.StatusCreated).JSON(s)
}

func validPrefix(p string) bool {
	if len(p) < 1 || len(p) > 3 {
		return false
	}
	for _, r := range p {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

func (a *API) listCounters(c *fiber.Ctx) error {
	cs := a.cfg.Queues.CounterList()
	return c.JSON(list(cs, len(cs)))
}

type counterRequest struct {
	Name     string   `json:"name"`
	Services []string `json:"services"`
	Status   *string  `json:"status"`
}

func (a *API) createCounter(c *fiber.Ctx) error {
	var req counterRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	status := persistence.CounterClosed
	if req.Status != nil {
		status = persistence.CounterStatus(*req.Status)
	}
	switch {
	case strings.TrimSpace(req.Name) == "" || len(req.Name) > maxNameLen:
		return bad("name is required (at most 100 bytes)")
	case len(req.Services) == 0:
		return bad("services must name at least one service")
	case !status.Valid():
		return bad("status must be open, paused or closed")
	}
	for _, s := range req.Services {
		if !a.cfg.Queues.ServiceExists(s) {
			return bad("services: unknown service " + strconv.Quote(s))
		}
	}
	ctx, cancel := a.storeCtx()
	defer cancel()
	k, err := a.cfg.Queues.AddCounter(ctx, req.Name, req.Services, status)
	if err != nil {
		return domainError(err)
	}
	return c.Status(fiber.StatusCreated).JSON(k)
}

type statusRequest struct {
	Status string `json:"status"`
}

func (a *API) patchCounter(c *fiber.Ctx) error {
	var req statusRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	st := persistence.CounterStatus(req.Status)
	if !st.Valid() {
		return bad("status must be open, paused or closed")
	}
	if err := mayActAt(c, c.Params("id")); err != nil {
		return err
	}
	// Fiber's strings die with the request; an actor may hold this one
	// longer (an ask that timed out), so it gets a copy.
	ctx, cancel := a.storeCtx()
	defer cancel()
	k, err := a.cfg.Queues.SetCounterStatus(ctx, strings.Clone(c.Params("id")), st, stampOf(c))
	if err != nil {
		return domainError(err)
	}
	return c.JSON(k)
}

// mayActAt refuses a staff token bound to one counter (counterId claim)
// acting on another; admins and unbound staff act on any counter.
func mayActAt(c *fiber.Ctx, counterID string) error {
	id := IdentityOf(c)
	if id.Role == auth.RoleStaff && id.CounterID != "" && id.CounterID != counterID {
		return fiber.NewError(fiber.StatusForbidden, "this token may only act on counter "+id.CounterID)
	}
	return nil
}

func (a *API) callNext(c *fiber.Ctx) error {
	counterID := strings.Clone(c.Params("id"))
	if err := mayActAt(c, counterID); err != nil {
		return err
	}
	by := stampOf(c)
	var err error
	if by.Request, err = idempotency(c, "call-next", counterID); err != nil {
		return err
	}
	ctx, cancel := a.storeCtx()
	defer cancel()
	t, k, replayed, err := a.cfg.Queues.CallNext(ctx, counterID, by)
	if err != nil {
		return domainError(err)
	}
	if replayed {
		c.Set(HeaderIdempotentReplayed, "true")
	}
	return c.JSON(fiber.Map{"ticket": t, "counter": k})
}

func (a *API) listQueues(c *fiber.Ctx) error {
	st := a.cfg.Queues.States()
	return c.JSON(list(st, len(st)))
}

type ticketRequest struct {
	ServiceType string  `json:"serviceType"`
	UserID      *string `json:"userId"`
	Priority    *string `json:"priority"`
}

func (a *API) createTicket(c *fiber.Ctx) error {
	var req ticketRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	id := IdentityOf(c)
	prio := persistence.PriorityNormal
	if req.Priority != nil {
		prio = persistence.Priority(*req.Priority)
	}
	switch {
	case req.ServiceType == "":
		return bad("serviceType is required")
	case !prio.Valid():
		return bad("priority must be normal, priority or vip")
	case req.UserID != nil && (*req.UserID == "" || len(*req.UserID) > maxNameLen):
		return bad("userId must be 1 to 100 bytes")
	case !a.cfg.Queues.ServiceExists(req.ServiceType):
		return fiber.NewError(fiber.StatusNotFound, "unknown serviceType")
	}
	var user string
	switch {
	case id.Role.IsStaff():
		if req.UserID != nil {
			user = *req.UserID
		} else {
			user = newUserID()
		}
	case req.UserID != nil && id.Role == auth.RoleGuest:
		return fiber.NewError(fiber.StatusForbidden, "naming a userId needs a token")
	case req.UserID != nil && *req.UserID != id.UserID:
		return fiber.NewError(fiber.StatusForbidden, "a customer may only take tickets for itself")
	case id.Role == auth.RoleCustomer:
		user = id.UserID
	default:
		user = newUserID()
	}
	if prio != persistence.PriorityNormal && !id.Role.IsStaff() {
		return fiber.NewError(fiber.StatusForbidden, "only staff may give a priority")
	}
	// The cap holds for a named owner (a customer, or one staff names); a
	// new anonymous user has no tickets yet. The store checks it in the
	// transaction that inserts the ticket.
	capped := 0
	if id.Role == auth.RoleCustomer || (id.Role.IsStaff() && req.UserID != nil) {
		capped = a.maxActive()
	}
	by := stampOf(c)
	named := ""
	if req.UserID != nil {
		named = *req.UserID
	}
	var err error
	if by.Request, err = idempotency(c, "create-ticket", req.ServiceType, named, string(prio)); err != nil {
		return err
	}
	ctx, cancel := a.storeCtx()
	defer cancel()
	t, replayed, err := a.cfg.Queues.CreateTicket(ctx, req.ServiceType, user, prio, capped, by)
	if err != nil {
		return domainError(err)
	}
	if replayed {
		c.Set(HeaderIdempotentReplayed, "true")
		if t.UserID != nil {
			user = *t.UserID
		}
	}
	tok, err := a.cfg.Auth.Issue(auth.Identity{UserID: user, Role: auth.RoleCustomer}, customerTokenTTL)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"ticket": t, "token": tok})
}

func (a *API) maxActive() int {
	if a.cfg.MaxActiveTickets <= 0 {
		return 3
	}
	return a.cfg.MaxActiveTickets
}

func newUserID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "u-" + hex.EncodeToString(b[:])
}

func (a *API) listTickets(c *fiber.Ctx) error {
	f := persistence.TicketFilter{ServiceType: c.Query("serviceType")}
	if s := c.Query("status"); s != "" {
		for _, v := range strings.Split(s, ",") {
			st := persistence.TicketStatus(v)
			if !st.Valid() {
				return bad("status must be waiting, serving, completed, no_show, cancelled or expired")
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	var err error
	if f.Limit, err = queryInt(c, "limit", 0, persistence.MaxPageSize); err != nil {
		return err
	}
	if f.Offset, err = queryInt(c, "offset", 0, 1<<30); err != nil {
		return err
	}
	ctx, cancel := a.storeCtx()
	defer cancel()
	ts, total, err := a.cfg.Store.ListTickets(ctx, f)
	if err != nil {
		return domainError(err)
	}
	return c.JSON(list(ts, total))
}

func queryInt(c *fiber.Ctx, name string, lo, hi int) (int, error) {
	s := c.Query(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, bad(name + " must be a number from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi))
	}
	return n, nil
}

// ticketFor loads a ticket the caller may see: staff and admins see all,
// a customer its own; anyone else gets 404 for a ticket that is not theirs
// (so ids cannot be probed) and 401 without a token.
func (a *API) ticketFor(c *fiber.Ctx, allowOwner bool) (persistence.Ticket, error) {
	id := IdentityOf(c)
	if id.Role == auth.RoleGuest {
		return persistence.Ticket{}, fiber.NewError(fiber.StatusUnauthorized, "authentication required")
	}
	if !id.Role.IsStaff() && !allowOwner {
		return persistence.Ticket{}, fiber.NewError(fiber.StatusForbidden, "forbidden for role "+string(id.Role))
	}
	ctx, cancel := a.storeCtx()
	defer cancel()
	t, err := a.cfg.Store.GetTicket(ctx, c.Params("id"))
	if err != nil {
		return t, domainError(err)
	}
	if !id.Role.IsStaff() && (t.UserID == nil || *t.UserID != id.UserID) {
		return t, fiber.NewError(fiber.StatusForbidden, "not your ticket")
	}
	return t, nil
}

func (a *API) getTicket(c *fiber.Ctx) error {
	t, err := a.ticketFor(c, true)
	if err != nil {
		return err
	}
	a.cfg.Queues.Fill(&t)
	return c.JSON(t)
}

func (a *API) cancelTicket(c *fiber.Ctx) error {
	t, err := a.ticketFor(c, true)
	if err != nil {
		return err
	}
	if t.Status != persistence.TicketWaiting {
		return fiber.NewError(fiber.StatusConflict, "only a waiting ticket can be cancelled")
	}
	ctx, cancel := a.storeCtx()
	defer cancel()
	t, err = a.cfg.Queues.Cancel(ctx, t.ServiceType, t.ID, stampOf(c))
	if err != nil {
		return domainError(err)
	}
	return c.JSON(fiber.Map{"ticket": t})
}

type transferRequest struct {
	ServiceType string `json:"serviceType"`
}

func (a *API) moveTicket(kind string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var to string
		if kind == queue.Transfer {
			var req transferRequest
			if err := decodeJSON(c, &req); err != nil {
				return err
			}
			if req.ServiceType == "" {
				return bad("serviceType is required")
			}
			if !a.cfg.Queues.ServiceExists(req.ServiceType) {
				return fiber.NewError(fiber.StatusNotFound, "unknown serviceType")
			}
			to = req.ServiceType
		}
		t, err := a.ticketFor(c, false)
		if err != nil {
			return err
		}
		if t.Status != persistence.TicketServing || t.CounterID == nil {
			return fiber.NewError(fiber.StatusConflict, "ticket is "+string(t.Status)+", not serving")
		}
		if err := mayActAt(c, *t.CounterID); err != nil {
			return err
		}
		ctx, cancel := a.storeCtx()
		defer cancel()
		t, err = a.cfg.Queues.Move(ctx, kind, *t.CounterID, t.ID, to, stampOf(c))
		if err != nil {
			return domainError(err)
		}
		return c.JSON(fiber.Map{"ticket": t})
	}
}
