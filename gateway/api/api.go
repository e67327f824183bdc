package api

import (
	"errors"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/queuecast/queuecast/actors/ask"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"

	"github.com/queuecast/queuecast/actors/clients"
	"github.com/queuecast/queuecast/actors/rooms"
	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/gateway/limits"
	"github.com/queuecast/queuecast/gateway/origins"
	"github.com/queuecast/queuecast/persistence"
)

// Config wires the API.
type Config struct {
	System    *actor.ActorSystem
	Auth      *auth.Authority
	Rooms     *actor.PID
	Directory *actor.PID
	// Origins are the browser origins allowed, by CORS and by every origin
	// check (the transport's too); requests without an Origin are always
	// allowed. The zero Set allows no browser origin.
	Origins origins.Set
	// Ready reports whether the database and the actor system are up.
	Ready func() error
	// Metrics returns the current loadBalancingMetrics payload.
	Metrics func() any
	// MetricsHandler serves /metrics; nil disables the route.
	MetricsHandler fiber.Handler
	Logger         *slog.Logger
	// Queues and Store serve the queue routes; with Queues nil they are not
	// mounted.
	Queues Queues
	Store  persistence.Store
	// MaxActiveTickets caps a customer's waiting and serving tickets; zero
	// means 3.
	MaxActiveTickets int
	// RequestTimeout bounds a request's database work and queue commands
	// (REQUEST_TIMEOUT); a command not done in it answers 503 and is never
	// carried out later. Zero means 10 seconds.
	RequestTimeout time.Duration
	// Limits gives the request rates per address and per token subject
	// (RESTRate, TokenRate and their bursts; zero fields are the defaults).
	Limits limits.Config
	// Refusals counts the requests refused by them. Nil means a counter
	// of the API's own.
	Refusals *limits.Refusals
	// Cluster gathers the other nodes' client records for the admin
	// routes; nil on a single node.
	Cluster ClusterClients
}

// ClusterClients asks the other nodes of a cluster for client records. A
// node that does not answer in time is named in missing, never an error.
type ClusterClients interface {
	// Clients returns every other node's records.
	Clients() (recs []clients.Record, missing []string)
	// Client returns the record of socketID if another node has it.
	Client(socketID string) (rec *clients.Record, missing []string)
}

// API is the HTTP surface.
type API struct {
	cfg    Config
	limits restLimits
}

// reserved event names a broadcast may not use.
var reserved = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true, "disconnecting": true,
	"newListener": true, "removeListener": true,
}

// New returns the API.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Refusals == nil {
		cfg.Refusals = new(limits.Refusals)
	}
	return &API{cfg: cfg, limits: newRESTLimits(cfg.Limits)}
}

// CORS returns the CORS middleware for the allowed origins.
func (a *API) CORS() fiber.Handler {
	return cors.New(cors.Config{
		AllowOriginsFunc: a.OriginAllowed,
		AllowMethods:     "GET,POST,PATCH,DELETE,OPTIONS",
		AllowHeaders:     "Content-Type,Authorization",
		AllowCredentials: true,
		MaxAge:           600,
	})
}

// RefuseOrigins answers 403 to browser requests from origins not allowed.
func (a *API) RefuseOrigins(c *fiber.Ctx) error {
	if o := c.Get(fiber.HeaderOrigin); o != "" && !a.OriginAllowed(o) {
		return c.Status(fiber.StatusForbidden).JSON(errorBody{Error: "origin not allowed"})
	}
	return c.Next()
}

// OriginAllowed reports whether a browser origin may use the server.
func (a *API) OriginAllowed(origin string) bool { return a.cfg.Origins.Allows(origin) }

// SetMetricsHandler sets the handler of GET /metrics.
func (a *API) SetMetricsHandler(h fiber.Handler) { a.cfg.MetricsHandler = h }

// Mount registers the routes.
func (a *API) Mount(app *fiber.App) {
	app.Get("/health", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/ready", a.ready)
	if a.cfg.MetricsHandler != nil {
		app.Get("/metrics", a.cfg.MetricsHandler)
	}
	admin := app.Group("/api/admin", a.require(auth.RoleAdmin))
	admin.Get("/clients", a.listClients)
	admin.Get("/clients/:socketId", a.getClient)
	admin.Post("/broadcast", a.broadcast)
	admin.Get("/metrics", func(c *fiber.Ctx) error { return c.JSON(a.cfg.Metrics()) })
	if a.cfg.Queues != nil {
		a.mountQueue(app)
	}
}

type errorBody struct {
	Error string `json:"error"`
}

// ErrorHandler writes every error as {error}, with no internals for a 500.
func ErrorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		code := fiber.StatusInternalServerError
		msg := "internal server error"
		var fe *fiber.Error
		if errors.As(err, &fe) {
			code, msg = fe.Code, fe.Message
			if code == fiber.StatusRequestEntityTooLarge {
				msg = "request body too large"
			}
		} else {
			log.Error("http handler", slog.String("path", c.Path()), slog.Any("err", err))
		}
		return c.Status(code).JSON(errorBody{Error: msg})
	}
}

const localsIdentity = "queuecast.identity"

// Identify reads the bearer token, if any: none is a guest, a bad one 401.
func (a *API) Identify(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	if h == "" {
		c.Locals(localsIdentity, auth.Guest)
		return c.Next()
	}
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return fiber.NewError(fiber.StatusUnauthorized, "authorization must be a Bearer token")
	}
	id, err := a.cfg.Auth.Verify(token)
	if err != nil || id.Role == auth.RoleGuest {
		return fiber.NewError(fiber.StatusUnauthorized, "invalid or expired token")
	}
	c.Locals(localsIdentity, id)
	return c.Next()
}

// IdentityOf returns the caller identity set by Identify.
func IdentityOf(c *fiber.Ctx) auth.Identity {
	if id, ok := c.Locals(localsIdentity).(auth.Identity); ok {
		return id
	}
	return auth.Guest
}

// require lets only the given roles through: a guest gets 401, others 403.
func (a *API) require(roles ...auth.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := IdentityOf(c)
		if id.Role == auth.RoleGuest {
			return fiber.NewError(fiber.StatusUnauthorized, "authentication required")
		}
		for _, r := range roles {
			if id.Role == r {
				return c.Next()
			}
		}
		return fiber.NewError(fiber.StatusForbidden, "forbidden for role "+string(id.Role))
	}
}

// Require is require for other packages' routes.
func (a *API) Require(roles ...auth.Role) fiber.Handler { return a.require(roles...) }

func (a *API) ready(c *fiber.Ctx) error {
	if a.cfg.Ready != nil {
		if err := a.cfg.Ready(); err != nil {
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "error": err.Error()})
		}
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// askTimeout bounds an HTTP handler's wait for an actor.
const askTimeout = 5 * time.Second

// askFor asks an actor on behalf of a handler: a timeout is 503.
func askFor[T any](sys *actor.ActorSystem, pid *actor.PID, mk func(chan T) any) (T, error) {
	v, err := ask.Ask(sys, pid, askTimeout, mk)
	if err != nil {
		return v, fiber.NewError(fiber.StatusServiceUnavailable, "timed out")
	}
	return v, nil
}

func (a *API) listClients(c *fiber.Ctx) error {
	recs, err := askFor(a.cfg.System, a.cfg.Directory, func(ch chan []clients.Record) any { return &clients.List{Reply: ch} })
	if err != nil {
		return err
	}
	if a.cfg.Cluster == nil {
		return c.JSON(fiber.Map{"items": recs, "total": len(recs)})
	}
	others, missing := a.cfg.Cluster.Clients()
	recs = append(recs, others...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].ClientID < recs[j].ClientID })
	return c.JSON(fiber.Map{"items": recs, "total": len(recs), "partial": len(missing) > 0, "missing": orEmpty(missing)})
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *API) getClient(c *fiber.Ctx) error {
	rec, err := askFor(a.cfg.System, a.cfg.Directory, func(ch chan *clients.Record) any {
		return &clients.Get{SocketID: strings.Clone(c.Params("socketId")), Reply: ch}
	})
	if err != nil {
		return err
	}
	if rec == nil && a.cfg.Cluster != nil {
		var missing []string
		if rec, missing = a.cfg.Cluster.Client(strings.Clone(c.Params("socketId"))); rec == nil && len(missing) > 0 {
			// Not on the nodes that answered; it may be on one that did not.
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{
				"error": "client not found on the nodes that answered", "partial": true, "missing": missing})
		}
	}
	if rec == nil {
		return fiber.NewError(fiber.StatusNotFound, "no such client")
	}
	return c.JSON(rec)
}

type broadcastRequest struct {
	Event string  `json:"event"`
	Data  jsonRaw `json:"data"`
	Room  *string `json:"room"`
}

func (a *API) broadcast(c *fiber.Ctx) error {
	var req broadcastRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(req.Event) == "":
		return fiber.NewError(fiber.StatusBadRequest, "event is required")
	case len(req.Event) > 128:
		return fiber.NewError(fiber.StatusBadRequest, "event is longer than 128 bytes")
	case reserved[req.Event]:
		return fiber.NewError(fiber.StatusBadRequest, "event "+req.Event+" is reserved")
	}
	room := ""
	if req.Room != nil {
		room = *req.Room
		if room == "" {
			return fiber.NewError(fiber.StatusBadRequest, "room must not be empty")
		}
	}
	b := &rooms.Broadcast{Event: req.Event}
	if len(req.Data) > 0 {
		b.Data = []byte(req.Data)
	}
	n, err := askFor(a.cfg.System, a.cfg.Rooms, func(ch chan int) any {
		return &rooms.Publish{Rooms: []string{room}, Broadcast: b, Reply: ch}
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"recipients": n})
}
