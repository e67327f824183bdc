-- +goose Up
-- One row per Idempotency-Key a client sent with a ticket creation or a
-- call-next, written in the transaction that did the work, so a key exists
-- exactly when its work was committed. scope names the route and the
-- caller; fingerprint the request's parameters.
CREATE TABLE idempotency_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    ticket_id   TEXT NOT NULL REFERENCES tickets (id),
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
