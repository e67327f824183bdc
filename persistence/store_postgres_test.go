package persistence

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/persistence/pgtest"
)

const testPassword = "s3cret-pw"

// connectCase is a DATABASE_URL that cannot be opened and the error Open
// must return for it.
type connectCase struct {
	name, url, want string
	kind            error
}

func checkOpenErrors(t *testing.T, cases []connectCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := Open(ctx, Config{DatabaseURL: tc.url})
			require.Error(t, err)
			require.Equal(t, tc.want, err.Error())
			require.ErrorIs(t, err, tc.kind)
			require.NotContains(t, err.Error(), testPassword)
		})
	}
}

// A first connection that fails names the server, the database, the user
// and the cause, and never the password; before, it read "persistence: open
// postgres: database unavailable (connect)".
func TestOpenPostgresConnectErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	require.NoError(t, ln.Close())
	checkOpenErrors(t, []connectCase{
		{
			name: "closed port",
			url:  "postgres://bob:" + testPassword + "@127.0.0.1:" + closed + "/queuecast?sslmode=disable",
			want: "persistence: connect to 127.0.0.1:" + closed + "/queuecast as bob: connection refused",
			kind: ErrUnavailable,
		},
		{
			name: "not a URL",
			url:  "postgres://bob:" + testPassword + "@127.0.0.1:port/queuecast",
			want: "persistence: open postgres: DATABASE_URL is not a valid PostgreSQL URL: invalid input",
			kind: ErrInvalid,
		},
	})
}

// A server that refuses the database or the role: its reason, and
// ErrInvalid (retrying will not help); before, "internal database error
// (SQLSTATE 3D000)".
func TestOpenPostgresRefused(t *testing.T) {
	server, err := url.Parse(pgtest.DSN(t)) // skips without PostgreSQL
	require.NoError(t, err)
	at := func(user, db string) string {
		u := *server
		u.User = url.UserPassword(user, testPassword)
		u.Path = "/" + db
		u.RawQuery = "sslmode=disable"
		return u.String()
	}
	host, user, db := server.Host, server.User.Username(), strings.TrimPrefix(server.Path, "/")
	checkOpenErrors(t, []connectCase{
		{
			name: "no such database",
			url:  at(user, "qc_no_such_database"),
			want: "persistence: connect to " + host + "/qc_no_such_database as " + user + `: database "qc_no_such_database" does not exist (SQLSTATE 3D000)`,
			kind: ErrInvalid,
		},
		{
			name: "no such role",
			url:  at("qc_no_such_role", db),
			want: "persistence: connect to " + host + "/" + db + ` as qc_no_such_role: role "qc_no_such_role" does not exist (SQLSTATE 28000)`,
			kind: ErrInvalid,
		},
	})
}
