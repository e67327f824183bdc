package limits

import "time"

// Config is every limit of a node. A zero field means its documented
// default; a negative rate or count turns that limit off.
type Config struct {
	// EventRate is the events per second one connection may send (token
	// bucket refill). Zero means 20.
	EventRate float64
	// EventBurst is the events a connection may send at once. Zero means
	// 100: a client joining the 64 rooms it may be in, at once, and more.
	EventBurst int
	// EventDebt is how many refused events a connection may run up: a
	// refused event still costs a token, and a connection whose bucket
	// owes more than this is closed. Zero means 100.
	EventDebt int
	// ConnRate is the new connections per second one address may open.
	// Zero means 20.
	ConnRate float64
	// ConnBurst is the new connections one address may open at once. Zero
	// means 100.
	ConnBurst int
	// MaxConns bounds the open connections of the node. Zero means 100,000.
	MaxConns int
	// MaxConnsPerAddr bounds the open connections of one address. Zero
	// means 1,000.
	MaxConnsPerAddr int
	// RESTRate is the API requests per second one address may make. Zero
	// means 100.
	RESTRate float64
	// RESTBurst is the API requests one address may make at once. Zero
	// means 200.
	RESTBurst int
	// TokenRate is the API requests per second one token subject (user id)
	// may make, from any address. Zero means 20.
	TokenRate float64
	// TokenBurst is the API requests one subject may make at once. Zero
	// means 50.
	TokenBurst int
	// MaxKeys bounds the buckets each keyed table keeps. Zero means 65,536.
	MaxKeys int
}

// Off is a configuration with every limit turned off.
func Off() Config {
	return Config{EventRate: -1, ConnRate: -1, MaxConns: -1, MaxConnsPerAddr: -1, RESTRate: -1, TokenRate: -1}
}

// WithDefaults fills in the zero fields.
func (c Config) WithDefaults() Config {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.EventRate, 20)
	defInt(&c.EventBurst, 100)
	defInt(&c.EventDebt, 100)
	def(&c.ConnRate, 20)
	defInt(&c.ConnBurst, 100)
	defInt(&c.MaxConns, 100_000)
	defInt(&c.MaxConnsPerAddr, 1_000)
	def(&c.RESTRate, 100)
	defInt(&c.RESTBurst, 200)
	def(&c.TokenRate, 20)
	defInt(&c.TokenBurst, 50)
	defInt(&c.MaxKeys, 65_536)
	return c
}

// Rate is a token bucket: Per tokens a second, at most Burst at once. A
// Rate with Per <= 0 is off (everything is allowed).
type Rate struct {
	Per   float64
	Burst int
}

// Off reports whether the bucket allows everything.
func (r Rate) Off() bool { return r.Per <= 0 }

// refill is how long an empty bucket takes to fill up: a bucket untouched
// that long is full, and dropping it changes nothing.
func (r Rate) refill() time.Duration {
	return time.Duration(float64(max(r.Burst, 1)) / r.Per * float64(time.Second))
}

// Events is the bucket of one connection's events.
func (c Config) Events() Rate { return Rate{Per: c.EventRate, Burst: c.EventBurst} }

// Conn is the bucket of one address's new connections.
func (c Config) Conn() Rate { return Rate{Per: c.ConnRate, Burst: c.ConnBurst} }

// REST is the bucket of one address's API requests.
func (c Config) REST() Rate { return Rate{Per: c.RESTRate, Burst: c.RESTBurst} }

// Token is the bucket of one token subject's API requests.
func (c Config) Token() Rate { return Rate{Per: c.TokenRate, Burst: c.TokenBurst} }
