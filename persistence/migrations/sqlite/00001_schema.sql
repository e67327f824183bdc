-- Times are TEXT in the fixed-width form 2006-01-02T15:04:05.000Z (UTC), so
-- text order is time order. Service days are TEXT 2006-01-02.

-- +goose Up
CREATE TABLE services (
    id                      TEXT PRIMARY KEY,
    name                    TEXT NOT NULL UNIQUE,
    prefix                  TEXT NOT NULL UNIQUE CHECK (length(prefix) BETWEEN 1 AND 3),
    active                  BOOLEAN NOT NULL DEFAULT TRUE,
    default_service_seconds INTEGER NOT NULL DEFAULT 180 CHECK (default_service_seconds > 0),
    target_wait_seconds     INTEGER NOT NULL DEFAULT 600 CHECK (target_wait_seconds > 0),
    created_at              TEXT NOT NULL
);

-- current_ticket_id is unique: a ticket is served by at most one counter.
CREATE TABLE counters (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    status            TEXT NOT NULL CHECK (status IN ('open', 'paused', 'closed')),
    current_ticket_id TEXT UNIQUE REFERENCES tickets (id),
    status_changed_at TEXT NOT NULL,
    CHECK (status <> 'closed' OR current_ticket_id IS NULL)
);

CREATE TABLE counter_services (
    counter_id TEXT NOT NULL REFERENCES counters (id),
    service_id TEXT NOT NULL REFERENCES services (id),
    PRIMARY KEY (counter_id, service_id)
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'customer')),
    counter_id    TEXT REFERENCES counters (id),
    created_at    TEXT NOT NULL
);

-- The only source of ticket numbers: one row per service and service day.
CREATE TABLE ticket_sequences (
    service_id  TEXT NOT NULL REFERENCES services (id),
    service_day TEXT NOT NULL,
    last_number INTEGER NOT NULL CHECK (last_number > 0),
    PRIMARY KEY (service_id, service_day)
);

-- service_id is where the ticket is now; issuing_service_id owns its number,
-- which a transfer keeps.
CREATE TABLE tickets (
    id                 TEXT PRIMARY KEY,
    service_id         TEXT NOT NULL REFERENCES services (id),
    issuing_service_id TEXT NOT NULL REFERENCES services (id),
    service_day        TEXT NOT NULL,
    number             INTEGER NOT NULL CHECK (number > 0),
    display_number     TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('waiting', 'serving', 'completed', 'no_show', 'cancelled', 'expired')),
    priority           TEXT NOT NULL CHECK (priority IN ('normal', 'priority', 'vip')),
    user_id            TEXT,
    counter_id         TEXT REFERENCES counters (id),
    recall_count       INTEGER NOT NULL DEFAULT 0 CHECK (recall_count >= 0),
    created_at         TEXT NOT NULL,
    queued_at          TEXT NOT NULL,
    called_at          TEXT,
    last_called_at     TEXT,
    ended_at           TEXT,
    UNIQUE (issuing_service_id, service_day, number),
    CHECK (status <> 'serving' OR counter_id IS NOT NULL),
    CHECK (status NOT IN ('waiting', 'cancelled', 'expired') OR counter_id IS NULL)
);

-- A counter serves at most one ticket.
CREATE UNIQUE INDEX tickets_serving_counter ON tickets (counter_id) WHERE status = 'serving';
CREATE INDEX tickets_waiting ON tickets (service_id, queued_at) WHERE status = 'waiting';
CREATE INDEX tickets_user ON tickets (user_id, status);
CREATE INDEX tickets_created ON tickets (created_at);
CREATE INDEX tickets_day ON tickets (service_day, status);

CREATE TABLE ticket_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id       TEXT NOT NULL REFERENCES tickets (id),
    type            TEXT NOT NULL CHECK (type IN ('created', 'called', 'recalled', 'completed', 'no_show', 'cancelled', 'transferred', 'expired')),
    occurred_at     TEXT NOT NULL,
    actor           TEXT,
    counter_id      TEXT REFERENCES counters (id),
    from_service_id TEXT REFERENCES services (id),
    to_service_id   TEXT REFERENCES services (id)
);

CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
CREATE INDEX ticket_events_occurred ON ticket_events (occurred_at);

-- +goose StatementBegin
CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events
BEGIN
    SELECT RAISE(ABORT, 'ticket_events is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ticket_events_no_delete BEFORE DELETE ON ticket_events
BEGIN
    SELECT RAISE(ABORT, 'ticket_events is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE ticket_events;
DROP TABLE tickets;
DROP TABLE ticket_sequences;
DROP TABLE users;
DROP TABLE counter_services;
DROP TABLE counters;
DROP TABLE services;
