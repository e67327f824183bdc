//go:build tools

package tools

import (
	_ "github.com/asynkron/protoactor-go/actor"
	_ "github.com/caarlos0/env/v11"
	_ "github.com/fasthttp/websocket"
	_ "github.com/gofiber/contrib/websocket"
	_ "github.com/gofiber/fiber/v2"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/jmoiron/sqlx"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite"
)
