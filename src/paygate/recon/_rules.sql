-- The matching rules: every category paygate.recon reports is decided here, once (private).
--
-- Inputs (paygate.recon._staging): entries (one row per settlement row, in stream order
-- ``seq``), records (one per payment record, in order ``rec``, with ``overdue`` decided by
-- ReconPolicy), modifications (a record's capture, refund and failed refund ids), tolerance
-- (per currency, in minor units). The category type is Category's values in declaration
-- order, so ordering by it is ordering by priority. Amounts are BIGINT, sums HUGEINT.
-- Output: the views ``findings``, ``tallies`` and ``actions``.

CREATE TEMP MACRO judged(settled, recorded, allowed) AS
    CASE
        WHEN abs(settled - recorded) <= allowed THEN 'matched'
        WHEN settled > recorded THEN 'amount_over'
        ELSE 'amount_under'
    END;

-- Each row about a payment, joined to its record: by the provider's payment reference, else
-- the modification reference, else a merchant reference exactly one record holds.
CREATE TEMP TABLE judged_rows AS
WITH
    by_payment AS (
        SELECT payment_id, max(rec) AS rec FROM records
        WHERE payment_id IS NOT NULL GROUP BY payment_id
    ),
    by_modification AS (SELECT mod_id, max(rec) AS rec FROM modifications GROUP BY mod_id),
    by_reference AS (
        SELECT reference, min(rec) AS rec FROM records
        WHERE reference IS NOT NULL GROUP BY reference HAVING count(*) = 1
    ),
    joined AS (
        SELECT
            e.seq, e.kind, e.provider_kind, e.currency, e.amount_currency, e.amount,
            e.entry_id, e.payment_reference, e.modification_reference,
            coalesce(p.rec, m.rec, r.rec) AS rec
        FROM entries e
        LEFT JOIN by_payment p ON p.payment_id = e.payment_reference
        LEFT JOIN by_modification m ON m.mod_id = e.modification_reference
        LEFT JOIN by_reference r ON r.reference = e.merchant_reference
        WHERE e.kind IN (SELECT kind FROM about_a_payment)
    ),
    located AS (
        SELECT
            j.seq, j.kind, j.provider_kind, j.currency, j.amount_currency, j.amount, j.rec,
            r.currency AS record_currency,
            j.rec IS NOT NULL AND j.amount_currency = r.currency AS usable,
            coalesce(j.modification_reference, '') AS refund_id,
            refund.amount AS recorded,
            failed.mod_id IS NOT NULL AS failed_known,
            coalesce(t.allowed, 0) AS allowed,
            -- What a charge or a refund row settles: a second row settling the same is
            -- settled twice.
            CASE
                WHEN j.kind = 'charge'
                    THEN coalesce(
                        nullif(j.modification_reference, ''), nullif(j.payment_reference, ''),
                        j.entry_id
                    )
                WHEN j.kind = 'refund' AND refund.amount IS NOT NULL
                    THEN coalesce(j.modification_reference, '')
            END AS settles
        FROM joined j
        LEFT JOIN records r ON r.rec = j.rec
        LEFT JOIN modifications refund
            ON j.kind = 'refund' AND refund.rec = j.rec AND refund.role = 'refund'
            AND refund.mod_id = coalesce(j.modification_reference, '')
        LEFT JOIN modifications failed
            ON j.kind = 'refund_reversal' AND failed.rec = j.rec AND failed.role = 'failed'
            AND failed.mod_id = j.modification_reference
        LEFT JOIN tolerance t ON t.currency = r.currency
    ),
    numbered AS (
        SELECT *,
            CASE WHEN usable AND settles IS NOT NULL THEN
                row_number() OVER (PARTITION BY usable, rec, kind, settles ORDER BY seq)
            END AS nth
        FROM located
    )
SELECT
    seq, kind, provider_kind, currency, amount_currency, amount, rec, record_currency, usable,
    refund_id, recorded, settles,
    -- NULL: a charge or a release, judged with its record below.
    CASE
        WHEN rec IS NULL AND kind = 'refund' THEN 'refund_without_record'
        WHEN rec IS NULL THEN 'settled_without_record'
        WHEN NOT usable THEN 'currency_mismatch'
        WHEN nth > 1 THEN 'settled_twice'
        WHEN kind = 'refund' AND recorded IS NULL THEN 'refund_without_record'
        WHEN kind = 'refund' THEN judged(-amount, recorded, allowed)
        WHEN kind = 'refund_reversal' AND failed_known THEN 'matched'
        WHEN kind = 'refund_reversal' THEN 'refund_without_record'
        WHEN kind IN ('chargeback', 'chargeback_reversal') THEN 'chargeback'
    END::category AS category
FROM numbered;

-- Each record, judged by the charge and release rows that settled it.
CREATE TEMP TABLE judged_records AS
WITH settled AS (
    SELECT
        rec,
        coalesce(sum(amount) FILTER (WHERE kind = 'charge'), 0) AS settled,
        count(*) FILTER (WHERE kind = 'charge') AS charges,
        coalesce(sum(amount) FILTER (WHERE kind = 'release'), 0) AS released,
        count(*) FILTER (WHERE kind = 'release') AS releases,
        min(seq) FILTER (WHERE kind = 'charge') AS first_seq
    FROM judged_rows
    WHERE category IS NULL
    GROUP BY rec
)
SELECT
    r.rec, r.currency, r.captured, r.changed,
    coalesce(s.charges, 0) AS charges,
    s.settled,
    s.released,
    s.releases,
    s.first_seq,
    s.settled + s.released AS total,
    CASE
        WHEN s.charges > 0 AND r.unknown THEN 'unknown_resolved'
        WHEN s.charges > 0
            AND judged(s.settled + s.released, r.captured, coalesce(t.allowed, 0)) = 'matched'
            THEN 'matched'
        WHEN s.charges > 0 AND r.captured < r.authorized AND s.releases = 0
            AND s.settled = r.authorized THEN 'release_missing'
        WHEN s.charges > 0 THEN judged(s.settled + s.released, r.captured, coalesce(t.allowed, 0))
        WHEN r.captured <> 0 AND r.overdue THEN 'not_settled'
    END::category AS category
FROM records r
LEFT JOIN settled s ON s.rec = r.rec
LEFT JOIN tolerance t ON t.currency = r.currency;

-- What each row and record came to: a finding, or a count in the tallies (``finding`` false).
-- ``seq`` names the entry a finding cites and ``rec`` its record; ``phase``, ``ord`` and
-- ``sub`` keep the order they were met in: rows in stream order (a row's net check first),
-- then records.
CREATE TEMP TABLE outcomes AS
SELECT
    0 AS phase, seq AS ord, 0 AS sub, 'net_mismatch'::category AS category, true AS finding,
    amount_currency AS currency, gross - fee AS expected, net AS settled,
    'net ' || net || ' is not gross ' || gross || ' - fee ' || fee AS note,
    seq, NULL::BIGINT AS rec, net AS amount, 1 AS n, NULL::BIGINT AS cites
FROM entries
WHERE net <> gross - fee
UNION ALL
SELECT
    0, seq, 1, 'bookkeeping', false, currency, NULL, NULL, NULL, seq, NULL, net, 1, NULL
FROM entries
WHERE kind NOT IN (SELECT kind FROM about_a_payment)
UNION ALL
SELECT
    0, seq, 1, category, category <> 'matched',
    CASE WHEN category = 'matched' THEN currency ELSE amount_currency END,
    CASE WHEN usable AND recorded IS NOT NULL THEN recorded END,
    CASE WHEN usable AND recorded IS NOT NULL THEN -amount ELSE amount END,
    CASE
        WHEN category = 'matched' THEN NULL
        WHEN rec IS NULL THEN provider_kind || ': no record'
        WHEN category = 'currency_mismatch'
            THEN 'settled in ' || amount_currency || ', recorded in ' || record_currency
        WHEN category = 'settled_twice' AND kind = 'charge'
            THEN provider_kind || ' ' || settles || ' already settled'
        WHEN category = 'settled_twice' THEN 'refund ' || settles || ' already settled'
        WHEN category = 'refund_without_record' AND kind = 'refund'
            THEN 'refund ' || coalesce(nullif(refund_id, ''), '(no id)') || ' is not on the record'
        WHEN category = 'refund_without_record'
            THEN 'refund reversed, and no failed refund of that id on the record'
        WHEN category = 'chargeback' THEN provider_kind
        ELSE 'refund ' || refund_id
    END,
    seq, rec,
    CASE
        WHEN category = 'matched' THEN amount
        WHEN usable AND recorded IS NOT NULL THEN -amount
        ELSE amount
    END,
    1, CASE WHEN category = 'chargeback' THEN seq END
FROM judged_rows
WHERE category IS NOT NULL
UNION ALL
SELECT
    1, rec, 0, category, category <> 'matched', currency,
    CASE WHEN category NOT IN ('matched', 'unknown_resolved') THEN captured END,
    CASE WHEN category <> 'not_settled' THEN total END,
    CASE category
        WHEN 'unknown_resolved' THEN 'the record''s unknown outcome: settlement shows it charged'
        WHEN 'release_missing' THEN 'partially captured, settled in full, and no release'
        WHEN 'not_settled'
            -- the ISO 8601 time to the minute, in its own offset: 2026-11-25 12:00
            THEN 'captured, not settled since ' || replace(left(changed, 16), 'T', ' ')
        WHEN 'matched' THEN NULL
        ELSE 'charge'
    END,
    first_seq, rec,
    CASE category WHEN 'matched' THEN settled WHEN 'not_settled' THEN captured ELSE total END,
    CASE WHEN category = 'matched' THEN charges ELSE 1 END,
    CASE WHEN category = 'unknown_resolved' THEN first_seq END
FROM judged_records
WHERE category IS NOT NULL
UNION ALL
SELECT 1, rec, 1, 'release_expected', false, currency, NULL, NULL, NULL, NULL, rec, released,
    releases, NULL
FROM judged_records
WHERE category = 'matched' AND releases > 0;

-- The findings, as ``paygate.recon.Finding`` takes them (a row's references are the row's, a
-- record's the record's, with the first row that settled it), and ``ordered``: most serious
-- first, then by where they were read, then as met.
CREATE TEMP VIEW findings AS
SELECT
    o.category,
    CASE o.phase WHEN 0 THEN e.provider ELSE r.provider END AS provider,
    o.currency,
    o.expected,
    o.settled,
    o.note,
    r.record_id,
    CASE o.phase WHEN 0 THEN e.payment_reference ELSE r.payment_id END AS payment_reference,
    CASE o.phase WHEN 0 THEN e.merchant_reference ELSE r.reference END AS merchant_reference,
    CASE o.phase WHEN 0 THEN e.modification_reference END AS modification_reference,
    e.entry_id,
    e.source,
    CASE o.phase WHEN 0 THEN e.line ELSE nullif(e.line, 0) END AS line,
    (o.category, coalesce(e.source, ''), coalesce(e.line, 0), o.phase, o.ord, o.sub) AS ordered
FROM outcomes o
LEFT JOIN entries e ON e.seq = o.seq
LEFT JOIN records r ON r.rec = o.rec
WHERE o.finding;

CREATE TEMP VIEW tallies AS
SELECT category, currency, sum(n) AS count, sum(amount) AS amount FROM outcomes GROUP BY ALL;

-- What settlement asks of records, ``ordered`` as met: each chargeback row, then each
-- resolution (the record's unknown outcome, charged as its rows settled it, citing the first).
CREATE TEMP VIEW actions AS
SELECT r.record_id, o.settled, e.*, (o.phase, o.ord) AS ordered
FROM outcomes o
JOIN entries e ON e.seq = o.cites
JOIN records r ON r.rec = o.rec;
