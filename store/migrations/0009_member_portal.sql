-- Member portal (issue 17): pools that take members until the order, up to an optional
-- maximum; the values a request joined with (a headcount split is computed from them, and
-- eligibility was decided on them); per resource, how far ahead and how many future
-- bookings a member may hold; reservations refused by those limits.

ALTER TABLE services
    ADD COLUMN max_participants integer CHECK (max_participants >= 1);

ALTER TABLE service_requests
    ADD COLUMN headcount integer CHECK (headcount >= 0),
    ADD COLUMN territory text,
    ADD COLUMN naf text;
-- Requests made before: the organisation's values now are the best record there is (running
-- pools keep, in their workflow, the headcount each member joined with).
UPDATE service_requests r
SET headcount = coalesce(o.headcount, 0), territory = o.territory, naf = o.naf
FROM organisations o
WHERE o.id = r.member_id AND r.headcount IS NULL;

ALTER TABLE resources
    ADD COLUMN horizon_days integer NOT NULL DEFAULT 90
        CHECK (horizon_days BETWEEN 1 AND 730),
    ADD COLUMN max_future_bookings integer NOT NULL DEFAULT 4
        CHECK (max_future_bookings BETWEEN 1 AND 100);

ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check CHECK (
    status IN ('confirmed', 'waitlisted', 'cancelled', 'expired', 'completed', 'refused')
);
-- A member's future confirmed bookings of a resource, counted at each reservation.
CREATE INDEX reservations_member_confirmed ON reservations (resource_id, member_id, upper(slot))
    WHERE status = 'confirmed';
