-- What the records lead settlement to expect (private): the tables ``records`` and
-- ``modifications`` the matching rules (_rules.sql) read, for the run's provider.
--
-- Inputs (paygate.recon._staging): ``documents`` (each record's JSON form, as
-- ``PaymentRecord.model_dump_json`` and ``RecordStore.scan_json`` give it, under its position
-- ``rec``), ``projections`` and ``projected_modifications`` (``paygate.recon.Expected`` values
-- a caller built itself), and ``policy`` (the provider, and ReconPolicy's as_of, since and the
-- provider's grace). This file is the one definition of a record's projection: no Python
-- function projects a record.

-- Minor units of a Money as its JSON form writes it. Money keeps its amount quantized to the
-- currency's exponent ("19.81" EUR, "1000" JPY, "1.000" BHD), so dropping the point is exact;
-- a text that is not a plain decimal stops the run rather than being guessed at.
CREATE TEMP MACRO minor(amount) AS
    CASE
        WHEN regexp_full_match(amount, '-?[0-9]+(\.[0-9]+)?') THEN replace(amount, '.', '')::BIGINT
        ELSE error('a record amount paygate did not write: ' || amount)
    END;

CREATE TEMP TABLE projected AS
SELECT
    rec,
    record.record_id,
    record.provider,
    record.payment_id,
    record.reference,
    record.amount.currency AS currency,
    minor(record.reported_authorized.amount) AS authorized,
    -- PaymentRecord.amount_captured: the provider's figure, or the captures the record holds
    -- as succeeded when they add up to more.
    greatest(
        minor(record.reported_captured.amount),
        coalesce(
            list_sum(list_transform(
                list_filter(
                    record.modifications,
                    lambda m: m.operation = 'capture' AND m.status = 'succeeded'
                        AND m.amount IS NOT NULL
                ),
                lambda m: minor(m.amount.amount)
            )),
            0
        )
    )::BIGINT AS captured,
    -- an unknown outcome of a call that charges
    len(list_filter(
        record.unknown, lambda u: u.operation IN ('authorize', 'purchase', 'capture')
    )) > 0 AS unknown,
    record.updated_at AS changed
FROM documents
WHERE record.provider = (SELECT provider FROM policy);

CREATE TEMP TABLE modifications AS
WITH listed AS (
    SELECT rec, unnest(record.modifications) AS m
    FROM documents
    WHERE record.provider = (SELECT provider FROM policy)
)
-- A record holds each capture and refund once, by the provider's id for it. A refund counts
-- as settling once the provider has it (received or succeeded); one that failed is listed so
-- that its reversal in settlement is recognised.
SELECT
    rec,
    m.id AS mod_id,
    CASE
        WHEN m.operation = 'capture' THEN 'capture'
        WHEN m.status IN ('received', 'succeeded') THEN 'refund'
        ELSE 'failed'
    END AS role,
    CASE
        WHEN m.operation = 'refund' AND m.status IN ('received', 'succeeded')
            THEN minor(m.amount.amount)
    END AS amount
FROM listed
WHERE m.operation = 'capture' OR (m.operation = 'refund' AND m.amount IS NOT NULL)
UNION ALL
SELECT m.*
FROM projected_modifications m
JOIN projections p ON p.rec = m.rec
WHERE p.provider = (SELECT provider FROM policy);

-- ``overdue``: captured long enough ago that settlement should show it (the provider's grace,
-- to as_of), and not before ``since`` (earlier data settled it).
CREATE TEMP TABLE records AS
SELECT
    r.rec, r.record_id, r.provider, r.payment_id, r.reference, r.currency, r.authorized,
    r.captured,
    (p.since IS NULL OR r.changed::TIMESTAMPTZ >= p.since)
        AND r.changed::TIMESTAMPTZ <= p.as_of - p.grace AS overdue,
    r.unknown,
    r.changed
FROM (
    SELECT * FROM projected
    UNION ALL BY NAME
    SELECT * FROM projections WHERE provider = (SELECT provider FROM policy)
) r, policy p;

-- What the rules read is above; the documents and the projection made of them would only hold
-- memory through the rest of the run.
DROP TABLE documents;
DROP TABLE projected;
