-- An expense's request id is unique within its phase: phase 2 may reuse phase 1's invoice
-- numbers without being taken for a retry.
ALTER TABLE convention_expenses DROP CONSTRAINT convention_expenses_pkey;
ALTER TABLE convention_expenses ADD PRIMARY KEY (convention_id, phase_number, request_id);
