//! The journal's SQLite schema and its migrations, keyed by `PRAGMA user_version`.
//!
//! Each migration runs in its own transaction together with the version bump, so a till
//! killed mid-upgrade reopens at the old version and simply runs the migration again.
//! Amounts are TEXT decimal strings: SQLite integers are 64-bit and crypto amounts in
//! base units (10^20 and up) are not.

use rusqlite::{Connection, TransactionBehavior};

use super::JournalError;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: charge intents, payments, and their transitions.
    r#"
    CREATE TABLE intents (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id        TEXT    NOT NULL,
        amount_minor    TEXT    NOT NULL,
        currency        TEXT    NOT NULL,
        description     TEXT,
        terminal        TEXT    NOT NULL,
        created_at_ms   INTEGER NOT NULL,
        -- Set once the create call is known to have produced this payment.
        payment_id      TEXT,
        -- Set when the create call is known NOT to have produced a payment.
        abandoned_at_ms INTEGER,
        abandon_reason  TEXT
    );
    CREATE INDEX intents_unresolved ON intents(order_id)
        WHERE payment_id IS NULL AND abandoned_at_ms IS NULL;

    CREATE TABLE payments (
        id                    TEXT    PRIMARY KEY,
        order_id              TEXT,
        terminal              TEXT,
        currency              TEXT    NOT NULL,
        amount_minor          TEXT    NOT NULL,
        amount_refunded_minor TEXT    NOT NULL,
        -- The effective status (pending + expired flag = expired); only moves forward.
        status                TEXT    NOT NULL,
        -- Which local day the payment belongs to: the service's `created`, else when
        -- the till first saw it.
        created_at_ms         INTEGER NOT NULL,
        updated_at_ms         INTEGER NOT NULL,
        -- The latest payment object, exactly as the shared serde types write it.
        json                  TEXT    NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX payments_created ON payments(created_at_ms);
    CREATE INDEX payments_order ON payments(order_id);
    CREATE INDEX payments_status ON payments(status);

    CREATE TABLE transitions (
        seq                    INTEGER PRIMARY KEY AUTOINCREMENT,
        payment_id             TEXT    NOT NULL REFERENCES payments(id),
        from_status            TEXT,
        to_status              TEXT    NOT NULL,
        refunded_before_minor  TEXT    NOT NULL,
        refunded_after_minor   TEXT    NOT NULL,
        source                 TEXT    NOT NULL,
        observed_at_ms         INTEGER NOT NULL,
        recorded_at_ms         INTEGER NOT NULL
    );
    CREATE INDEX transitions_payment ON transitions(payment_id, seq);
    "#,
    // 2: cancel and refund requests, journaled before they go out, so a till killed
    // while one was in flight re-reads the payment instead of offering a second refund.
    r#"
    CREATE TABLE actions (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        payment_id     TEXT    NOT NULL,
        kind           TEXT    NOT NULL CHECK (kind IN ('cancel', 'refund')),
        amount_minor   TEXT,
        currency       TEXT,
        reason         TEXT,
        created_at_ms  INTEGER NOT NULL,
        resolved_at_ms INTEGER,
        outcome        TEXT
    );
    CREATE INDEX actions_unresolved ON actions(payment_id) WHERE resolved_at_ms IS NULL;

    -- A unique token per charge, sent as payment metadata, so reconciliation can tell
    -- apart two charges that share a cashier-typed order id.
    ALTER TABLE intents ADD COLUMN token TEXT;
    UPDATE intents SET token = lower(hex(randomblob(16))) WHERE token IS NULL;
    CREATE UNIQUE INDEX intents_token ON intents(token);
    "#,
    // 3: one merge rule. Transitions are written as the tracker made them (their kind
    // and the refund they concern); each payment names its last transition, so a write
    // merged onto an older state is refused; refunds are kept one by one, requested
    // (pending) and sent. Books: demo, test and live payments, intents and requests are
    // kept apart; rows written before books existed are live when the API said so.
    r#"
    ALTER TABLE transitions ADD COLUMN kind TEXT;
    ALTER TABLE transitions ADD COLUMN refund_id TEXT;

    ALTER TABLE payments ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
    UPDATE payments SET last_seq = COALESCE(
        (SELECT MAX(seq) FROM transitions t WHERE t.payment_id = payments.id), 0);

    ALTER TABLE payments ADD COLUMN book TEXT NOT NULL DEFAULT 'live';
    UPDATE payments SET book = CASE
        WHEN json_extract(json, '$.live_mode') = 1 THEN 'live' ELSE 'test' END;
    CREATE INDEX payments_book_created ON payments(book, created_at_ms);

    ALTER TABLE intents ADD COLUMN book TEXT NOT NULL DEFAULT 'live';
    UPDATE intents SET book = COALESCE(
        (SELECT p.book FROM payments p WHERE p.id = intents.payment_id), 'test');
    ALTER TABLE actions ADD COLUMN book TEXT NOT NULL DEFAULT 'live';
    UPDATE actions SET book = COALESCE(
        (SELECT p.book FROM payments p WHERE p.id = actions.payment_id), 'test');

    CREATE TABLE refunds (
        id            TEXT    PRIMARY KEY,
        payment_id    TEXT    NOT NULL REFERENCES payments(id),
        amount_minor  TEXT    NOT NULL,
        currency      TEXT    NOT NULL,
        -- pending (requested), succeeded (sent), failed; only moves forward.
        status        TEXT    NOT NULL,
        reason        TEXT,
        created       INTEGER NOT NULL DEFAULT 0,
        updated_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX refunds_payment ON refunds(payment_id);

    -- Facts about the file itself: the book a till last ran on (so `history` without keys
    -- shows the book the till uses).
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 4: the counter's day. Shifts per till and book (at most one open); a charge belongs
    // to the shift open when it was charged (set on the intent in the same transaction,
    // copied to the payment when the create call's answer is attached); the close-of-day
    // and shift reports are kept as written, so a closed period reprints exactly.
    r#"
    CREATE TABLE shifts (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        book          TEXT    NOT NULL,
        till          TEXT    NOT NULL,
        opened_at_ms  INTEGER NOT NULL,
        opened_by     TEXT,
        closed_at_ms  INTEGER,
        closed_by     TEXT
    );
    CREATE UNIQUE INDEX shifts_one_open ON shifts(book, till) WHERE closed_at_ms IS NULL;

    ALTER TABLE intents ADD COLUMN shift_id INTEGER REFERENCES shifts(id);
    ALTER TABLE payments ADD COLUMN shift_id INTEGER REFERENCES shifts(id);
    CREATE INDEX payments_shift ON payments(shift_id);

    CREATE TABLE reports (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        book          TEXT    NOT NULL,
        -- A shift's report names the shift; a day's names the local day (YYYY-MM-DD).
        shift_id      INTEGER REFERENCES shifts(id),
        day           TEXT,
        created_at_ms INTEGER NOT NULL,
        -- The report exactly as it was shown (day::Report's JSON).
        json          TEXT    NOT NULL,
        CHECK ((shift_id IS NULL) <> (day IS NULL))
    );
    CREATE INDEX reports_period ON reports(book, shift_id, day);
    "#,
    // 5: sales. What a charge rang up — its
    // lines, tax per rate and tip, paydesk-sale's `Totals` as JSON — written with the
    // charge's intent in one transaction; `payment_id` is set when the intent gets its
    // payment. The parts a report sums are columns too (TEXT: amounts are i128).
    r#"
    CREATE TABLE sales (
        intent_id          INTEGER PRIMARY KEY REFERENCES intents(id),
        payment_id         TEXT,
        book               TEXT    NOT NULL,
        currency           TEXT    NOT NULL,
        subtotal_minor     TEXT    NOT NULL,
        added_tax_minor    TEXT    NOT NULL,
        included_tax_minor TEXT    NOT NULL,
        tip_minor          TEXT    NOT NULL,
        total_minor        TEXT    NOT NULL,
        -- Who chose the tip: customer | cashier; NULL when nobody did (no tip).
        tip_by             TEXT,
        totals             TEXT    NOT NULL,
        created_at_ms      INTEGER NOT NULL
    );
    CREATE INDEX sales_payment ON sales(payment_id) WHERE payment_id IS NOT NULL;
    "#,
    // 6: staff. Who did what: the person's number and name as they were
    // (a rename or a removal later does not rewrite history) and who approved an
    // override, on every charge intent, cancel and refund request and payment the till
    // created; NULL is unattended (a till without staff) or from before staff existed.
    // Payments created before this read their cashier from the metadata they carry.
    // `operations` holds the rest of what people do at the till (exports, reprints,
    // shifts, settings, keys, mode, staff changes, overrides), one row each.
    r#"
    ALTER TABLE intents ADD COLUMN cashier_id INTEGER;
    ALTER TABLE intents ADD COLUMN cashier TEXT;
    ALTER TABLE intents ADD COLUMN approved_by TEXT;
    ALTER TABLE actions ADD COLUMN cashier_id INTEGER;
    ALTER TABLE actions ADD COLUMN cashier TEXT;
    ALTER TABLE actions ADD COLUMN approved_by TEXT;
    ALTER TABLE payments ADD COLUMN cashier_id INTEGER;
    ALTER TABLE payments ADD COLUMN cashier TEXT;
    UPDATE payments SET cashier = json_extract(json, '$.metadata.paydesk_cashier')
        WHERE json_type(json, '$.metadata.paydesk_cashier') = 'text';

    CREATE TABLE operations (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        book           TEXT    NOT NULL,
        action         TEXT    NOT NULL,
        subject        TEXT,
        detail         TEXT,
        cashier_id     INTEGER,
        cashier        TEXT,
        approved_by    TEXT,
        at_ms          INTEGER NOT NULL
    );
    CREATE INDEX operations_book_at ON operations(book, at_ms);
    "#,
];

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`CURRENT_VERSION`], refusing one written by a newer build.
pub fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<(), JournalError> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > CURRENT_VERSION {
            return Err(JournalError::TooNew {
                path: path.to_owned(),
                found: version,
                known: CURRENT_VERSION,
            });
        }
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(from = version, to = version + 1, "journal schema migrated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_columns_are_added_and_old_payments_keep_the_cashier_their_metadata_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.sqlite3");
        let mut conn = Connection::open(&path).unwrap();
        for step in &MIGRATIONS[..3] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        for (id, json) in [
            ("p1", r#"{"metadata":{"paydesk_cashier":"Cara"}}"#),
            ("p2", r#"{"metadata":{"paydesk_cashier":7}}"#),
            ("p3", "{}"),
        ] {
            conn.execute(
                "INSERT INTO payments (id, currency, amount_minor, amount_refunded_minor, \
                 status, created_at_ms, updated_at_ms, json) \
                 VALUES (?1, 'EUR', '100', '0', 'succeeded', 1, 1, ?2)",
                [id, json],
            )
            .unwrap();
        }
        migrate(&mut conn, &path).unwrap();
        let cashiers: Vec<Option<String>> = conn
            .prepare("SELECT cashier FROM payments ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(cashiers, vec![Some("Cara".to_owned()), None, None]);
        for table in ["intents", "actions"] {
            conn.execute_batch(&format!(
                "SELECT cashier_id, cashier, approved_by FROM {table}"
            ))
            .unwrap();
        }
        let ops: i64 = conn
            .query_row("SELECT count(*) FROM operations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ops, 0);
    }

    #[test]
    fn an_older_journal_is_migrated_without_losing_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO payments VALUES ('p1', NULL, NULL, 'CRO', '100000000000000000000', \
             '0', 'succeeded', 1, 1, '{}')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO intents (order_id, amount_minor, currency, terminal, created_at_ms) \
             VALUES ('o1', '100', 'EUR', 't', 1)",
            [],
        )
        .unwrap();
        migrate(&mut conn, &path).unwrap();
        let token: String = conn
            .query_row("SELECT token FROM intents", [], |r| r.get(0))
            .unwrap();
        assert_eq!(token.len(), 32);
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, CURRENT_VERSION);
        let amount: String = conn
            .query_row(
                "SELECT amount_minor FROM payments WHERE id = 'p1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(amount, "100000000000000000000");
        // Running it again is a no-op, and the new table is there.
        migrate(&mut conn, &path).unwrap();
        let actions: i64 = conn
            .query_row("SELECT count(*) FROM actions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(actions, 0);
    }
}
