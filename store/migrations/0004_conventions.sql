-- Partnership conventions: parties and their signatories, phases with budget and KPI targets,
-- signatures, periodic KPI snapshots, expenses, evaluations; and the company visits and
-- action projects whose activity the KPIs measure.

CREATE TABLE conventions (
    id            uuid PRIMARY KEY,
    workflow_id   text NOT NULL UNIQUE,
    network_id    uuid NOT NULL REFERENCES organisations (id),
    created_by    uuid NOT NULL REFERENCES users (id),
    title         text NOT NULL,
    territory     text NOT NULL,
    status        text NOT NULL,
    phase_number  integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE convention_parties (
    convention_id    uuid NOT NULL REFERENCES conventions (id),
    organisation_id  uuid NOT NULL REFERENCES organisations (id),
    role             text NOT NULL CHECK (role IN ('funder', 'operator', 'partner')),
    signatory_id     uuid NOT NULL REFERENCES users (id),
    PRIMARY KEY (convention_id, organisation_id)
);
CREATE INDEX convention_parties_organisation ON convention_parties (organisation_id);

CREATE TABLE convention_phases (
    convention_id        uuid NOT NULL REFERENCES conventions (id),
    number               integer NOT NULL CHECK (number >= 1),
    starts_on            date NOT NULL,
    ends_on              date NOT NULL,
    annual_budget_cents  bigint NOT NULL CHECK (annual_budget_cents >= 0),
    targets              jsonb NOT NULL DEFAULT '{}',
    priorities           text[] NOT NULL DEFAULT '{}',
    status               text NOT NULL,
    detail               text,
    evaluation           jsonb,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (convention_id, number),
    CHECK (ends_on > starts_on)
);

CREATE TABLE convention_signatures (
    convention_id    uuid NOT NULL,
    phase_number     integer NOT NULL,
    organisation_id  uuid NOT NULL REFERENCES organisations (id),
    signatory_id     uuid NOT NULL REFERENCES users (id),
    signed_at        timestamptz NOT NULL,
    PRIMARY KEY (convention_id, phase_number, organisation_id),
    FOREIGN KEY (convention_id, phase_number) REFERENCES convention_phases (convention_id, number)
);

-- One snapshot per phase and day: a refresh the same day replaces that day's figures.
CREATE TABLE kpi_snapshots (
    convention_id  uuid NOT NULL,
    phase_number   integer NOT NULL,
    as_of          date NOT NULL,
    taken_at       timestamptz NOT NULL,
    actuals        jsonb NOT NULL,
    PRIMARY KEY (convention_id, phase_number, as_of),
    FOREIGN KEY (convention_id, phase_number) REFERENCES convention_phases (convention_id, number)
);

CREATE TABLE convention_expenses (
    convention_id  uuid NOT NULL,
    phase_number   integer NOT NULL,
    request_id     text NOT NULL,
    amount_cents   bigint NOT NULL CHECK (amount_cents > 0),
    label          text NOT NULL,
    spent_on       date NOT NULL,
    recorded_by    uuid NOT NULL REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (convention_id, request_id),
    FOREIGN KEY (convention_id, phase_number) REFERENCES convention_phases (convention_id, number)
);

CREATE TABLE company_visits (
    id                       uuid PRIMARY KEY,  -- derived from the adviser's request id
    adviser_id               uuid NOT NULL REFERENCES users (id),
    adviser_organisation_id  uuid NOT NULL REFERENCES organisations (id),
    company_id               uuid REFERENCES organisations (id),
    company_siret            char(14) NOT NULL,
    company_name             text NOT NULL,
    postcode                 char(5) NOT NULL,
    territory                text NOT NULL,
    visited_on               date NOT NULL,
    themes                   text[] NOT NULL DEFAULT '{}',
    needs                    text NOT NULL DEFAULT '',
    created_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX company_visits_territory ON company_visits (territory, visited_on);
CREATE INDEX company_visits_company ON company_visits (company_id);

CREATE TABLE action_projects (
    id                  uuid PRIMARY KEY,
    visit_id            uuid NOT NULL REFERENCES company_visits (id),
    ord                 integer NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('recruitment', 'pooled_service', 'training', 'investment', 'digital', 'funding', 'other')),
    title               text NOT NULL,
    status              text NOT NULL CHECK (status IN ('identified', 'in_progress', 'done', 'abandoned')),
    investment_cents    bigint CHECK (investment_cents >= 0),
    campaign_id         uuid REFERENCES campaigns (id),
    service_request_id  uuid REFERENCES service_requests (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (visit_id, ord)
);
