-- Pooled services: the catalogue, pools per service and period, members' requests with
-- their quotes, the order with the provider, invoice lines; bookable resources and their
-- reservations (no double booking, enforced by an exclusion constraint).

CREATE TABLE services (
    id                uuid PRIMARY KEY,
    network_id        uuid NOT NULL REFERENCES organisations (id),
    code              text NOT NULL UNIQUE,
    name              text NOT NULL,
    description       text NOT NULL DEFAULT '',
    unit              text NOT NULL CHECK (unit IN ('day', 'month', 'seat', 'hour', 'item')),
    min_participants  integer NOT NULL CHECK (min_participants >= 1),
    min_quantity      integer NOT NULL CHECK (min_quantity >= 0),
    window_days       integer NOT NULL CHECK (window_days >= 1),
    fixed_cents       bigint NOT NULL CHECK (fixed_cents >= 0),
    per_unit_cents    bigint NOT NULL CHECK (per_unit_cents >= 0),
    split_rule        text NOT NULL CHECK (split_rule IN ('equal', 'pro_rata_quantity', 'headcount_weighted')),
    acceptance_days   integer NOT NULL CHECK (acceptance_days >= 1),
    provider_id       uuid NOT NULL REFERENCES organisations (id),
    territories       text[] NOT NULL DEFAULT '{}',
    sectors           text[] NOT NULL DEFAULT '{}',
    max_quantity      integer NOT NULL CHECK (max_quantity >= 1),
    active            boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pools (
    id               text PRIMARY KEY,  -- the workflow id: pool-<code>-<period>
    service_id       uuid NOT NULL REFERENCES services (id),
    period           text NOT NULL,
    status           text NOT NULL,
    closes_at        timestamptz NOT NULL,
    total_cents      bigint,
    quote_round      integer NOT NULL DEFAULT 0,
    order_reference  text,
    reason           text,
    compensated      boolean NOT NULL DEFAULT false,
    opened_at        timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (service_id, period)
);

CREATE TABLE service_requests (
    id               uuid PRIMARY KEY,
    pool_id          text NOT NULL REFERENCES pools (id),
    member_id        uuid NOT NULL REFERENCES organisations (id),
    idempotency_key  text NOT NULL,
    quantity         integer NOT NULL CHECK (quantity > 0),
    needed_by        date NOT NULL,
    note             text NOT NULL DEFAULT '',
    status           text NOT NULL,
    quote_cents      bigint,
    accepted_cents   bigint,
    reason           text,
    rating           integer CHECK (rating BETWEEN 1 AND 5),
    rating_comment   text,
    created_by       uuid NOT NULL REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (member_id, idempotency_key)
);
CREATE INDEX service_requests_pool ON service_requests (pool_id);

-- One order per pool: placing it again (a retried activity) finds the same row.
CREATE TABLE service_orders (
    pool_id      text PRIMARY KEY REFERENCES pools (id),
    provider_id  uuid NOT NULL REFERENCES organisations (id),
    total_cents  bigint NOT NULL,
    status       text NOT NULL CHECK (status IN ('placed', 'confirmed', 'delivered', 'cancelled')),
    reference    text,
    reason       text,
    placed_at    timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE invoice_lines (
    request_id    uuid PRIMARY KEY REFERENCES service_requests (id),
    pool_id       text NOT NULL REFERENCES pools (id),
    member_id     uuid NOT NULL REFERENCES organisations (id),
    description   text NOT NULL,
    amount_cents  bigint NOT NULL CHECK (amount_cents >= 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoice_lines_pool ON invoice_lines (pool_id);

-- Rooms, vehicles… booked by slot. `no` gives the exclusion constraint a range-comparable
-- key (pgserver has no btree_gist, so the resource is compared as a one-point int8range).
CREATE TABLE resources (
    id          uuid PRIMARY KEY,
    no          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    network_id  uuid NOT NULL REFERENCES organisations (id),
    kind        text NOT NULL CHECK (kind IN ('room', 'vehicle', 'equipment')),
    name        text NOT NULL,
    location    text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reservations (
    id           uuid PRIMARY KEY,
    workflow_id  text NOT NULL UNIQUE,
    resource_id  uuid NOT NULL REFERENCES resources (id),
    resource_no  bigint NOT NULL,
    member_id    uuid NOT NULL REFERENCES organisations (id),
    slot         tstzrange NOT NULL CHECK (NOT isempty(slot)),
    status       text NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled', 'expired', 'completed')),
    created_by   uuid NOT NULL REFERENCES users (id),
    reason       text,
    promoted_by  uuid,  -- the cancelled reservation that gave it its slot
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reservations_no_double_booking EXCLUDE USING gist (
        int8range(resource_no, resource_no, '[]') WITH &&, slot WITH &&
    ) WHERE (status = 'confirmed')
);
CREATE INDEX reservations_waitlist ON reservations (resource_id, created_at) WHERE status = 'waitlisted';
