package rooms

// Room names of the contract, declared once: the gateway joins sockets to
// them and the queue actors publish to them.
const (
	// Dashboard is the staff and admin room.
	Dashboard = "dashboard"
	// ServicePrefix, CounterPrefix and UserPrefix start the names of a
	// service's, a counter's and a user's rooms.
	ServicePrefix = "service-"
	CounterPrefix = "counter-"
	UserPrefix    = "user-"
	// All holds every socket of the main namespace: a broadcast to it is
	// io.emit. Clients cannot name it.
	All = ""
)

// Service is the room of the service called name ("service-Finance").
func Service(name string) string { return ServicePrefix + name }

// Counter is the room of the counter with this id.
func Counter(id string) string { return CounterPrefix + id }

// User is the room of the user with this id (their phones and tabs).
func User(id string) string { return UserPrefix + id }
