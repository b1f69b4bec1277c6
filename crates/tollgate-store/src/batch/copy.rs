//! The batch write on PostgreSQL: each table's rows go by `COPY … FROM STDIN` (text
//! format) into a staging table of the connection's own, then into the real table
//! with one `INSERT … SELECT … ON CONFLICT`. The conflict rules are the same as the
//! multi-row statements' (calls and charges skip what is stored, rollups add up), and
//! so is the result; what changes is the cost: no statement of thousands of bound
//! parameters to parse, plan and bind per batch.
//!
//! The staging tables are temporary (`ON COMMIT DELETE ROWS`), created once per
//! connection when the pool opens it: they live as long as the connection and are
//! empty outside a batch's transaction, whether it commits or rolls back.

use std::collections::HashSet;
use std::io::Write as _;
use std::sync::LazyLock;

use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Executor as _, Row as _};

use super::Written;
use crate::calls::{CALL_COLUMNS, CallRecord, Cell, attempts_json, call_cells, text};
use crate::error::StoreError;
use crate::ledger::{LEDGER_COLUMNS, LedgerEntry, ledger_cells};
use crate::rollups::{
    Granularity, ROLLUP_COLUMNS, aggregate, rollup_cells, upsert_conflict_clause,
};

/// Creates the connection's staging tables: run by the pool on every new connection
/// ([`configure`]), after the migrations (the pool connects lazily, and the store
/// runs the migrations before it hands itself out). The charges' table is spelled out:
/// `LIKE credit_ledger` would copy the NOT NULL of its identity column, which only the
/// real table fills in.
const CREATE_STAGING: &str = "\
    CREATE TEMP TABLE staging_calls (LIKE calls) ON COMMIT DELETE ROWS; \
    CREATE TEMP TABLE staging_rollups (gran SMALLINT NOT NULL, LIKE rollup_minute) \
        ON COMMIT DELETE ROWS; \
    CREATE TEMP TABLE staging_charges (ord BIGINT NOT NULL, consumer TEXT, at BIGINT, \
        amount_micros BIGINT, kind TEXT, reason TEXT, actor TEXT, request_id TEXT) \
        ON COMMIT DELETE ROWS";

/// The pool options of the COPY pool: its connections get their staging tables.
pub(crate) fn configure(options: PgPoolOptions) -> PgPoolOptions {
    options.after_connect(|conn, _meta| {
        Box::pin(async move {
            conn.execute(CREATE_STAGING).await?;
            Ok(())
        })
    })
}

static COPY_CALLS: LazyLock<String> =
    LazyLock::new(|| format!("COPY staging_calls ({CALL_COLUMNS}) FROM STDIN"));
/// `RETURNING` names the calls actually inserted: only those go into the rollups.
static INSERT_CALLS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO calls ({CALL_COLUMNS}) SELECT {CALL_COLUMNS} FROM staging_calls \
         ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
    )
});
static COPY_ROLLUPS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "COPY staging_rollups (gran, {}) FROM STDIN",
        ROLLUP_COLUMNS.as_str()
    )
});
/// One upsert per granularity, in one round trip. Rows go in key order, the same in
/// every writer, so concurrent writers (several nodes) lock rows in one order and
/// cannot deadlock on them.
static UPSERT_ROLLUPS: LazyLock<String> = LazyLock::new(|| {
    Granularity::ALL
        .iter()
        .map(|g| {
            format!(
                "INSERT INTO {table} ({cols}) SELECT {cols} FROM staging_rollups \
                 WHERE gran = {gran} ORDER BY bucket, dim, value {conflict}",
                table = g.table(),
                cols = ROLLUP_COLUMNS.as_str(),
                gran = g.index(),
                conflict = upsert_conflict_clause(*g),
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
});
static COPY_CHARGES: LazyLock<String> =
    LazyLock::new(|| format!("COPY staging_charges (ord, {LEDGER_COLUMNS}) FROM STDIN"));
/// In the batch's order, so ledger ids follow it; a second charge for a request (stored
/// before, or earlier in the batch) is skipped by the one-charge-per-request index.
static INSERT_CHARGES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO credit_ledger ({LEDGER_COLUMNS}) SELECT {LEDGER_COLUMNS} \
         FROM staging_charges ORDER BY ord ON CONFLICT DO NOTHING"
    )
});

pub(super) async fn write_batch(
    pool: &PgPool,
    calls: &[&CallRecord],
    charges: &[&LedgerEntry],
) -> Result<Written, StoreError> {
    let mut tx = pool.begin().await?;
    let calls = insert_calls(&mut tx, calls).await?;
    let charges = insert_charges(&mut tx, charges).await?;
    tx.commit().await?;
    Ok(Written { calls, charges })
}

async fn insert_calls(conn: &mut PgConnection, calls: &[&CallRecord]) -> Result<u64, StoreError> {
    if calls.is_empty() {
        return Ok(0);
    }
    // The first of repeated ids is the one stored, as on the other path. Ids as
    // stored ([`text`]), which is what `RETURNING` names.
    let ids: Vec<String> = calls.iter().map(|c| text(&c.request_id)).collect();
    let mut seen = HashSet::new();
    let calls: Vec<(&str, &CallRecord)> = ids
        .iter()
        .map(String::as_str)
        .zip(calls.iter().copied())
        .filter(|(id, _)| seen.insert(*id))
        .collect();
    let mut rows = CopyText::default();
    for (_, c) in &calls {
        let attempts = attempts_json(c)?;
        rows.row(call_cells(c, &attempts));
    }
    copy_in(conn, &COPY_CALLS, rows).await?;
    let mut inserted = HashSet::new();
    for row in sqlx::query(INSERT_CALLS.as_str())
        .fetch_all(&mut *conn)
        .await?
    {
        inserted.insert(row.try_get::<String, _>(0)?);
    }
    let new: Vec<&CallRecord> = calls
        .into_iter()
        .filter(|(id, _)| inserted.contains(*id))
        .map(|(_, c)| c)
        .collect();

    let mut rows = CopyText::default();
    for (key, rollup) in &aggregate(&new) {
        rows.row(std::iter::once(Cell::int(key.0.index() as i64)).chain(rollup_cells(key, rollup)));
    }
    copy_in(conn, &COPY_ROLLUPS, rows).await?;
    sqlx::raw_sql(UPSERT_ROLLUPS.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(new.len() as u64)
}

async fn insert_charges(
    conn: &mut PgConnection,
    charges: &[&LedgerEntry],
) -> Result<u64, StoreError> {
    if charges.is_empty() {
        return Ok(0);
    }
    let mut rows = CopyText::default();
    for (ord, e) in charges.iter().enumerate() {
        rows.row(std::iter::once(Cell::int(ord as i64)).chain(ledger_cells(e)));
    }
    copy_in(conn, &COPY_CHARGES, rows).await?;
    let done = sqlx::query(INSERT_CHARGES.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

/// Sends `rows` with `statement` (a `COPY … FROM STDIN`). Nothing to send, nothing
/// done.
async fn copy_in(
    conn: &mut PgConnection,
    statement: &str,
    rows: CopyText,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut copy = conn.copy_in_raw(statement).await?;
    if let Err(e) = copy.send(rows.0).await {
        // The connection must leave COPY mode before it can be used (or rolled back).
        let _ = copy.abort("batch not sent").await;
        return Err(e.into());
    }
    copy.finish().await?;
    Ok(())
}

/// Rows in COPY's text format: columns separated by tabs, rows ended by newlines,
/// NULL as `\N`, and backslash, tab, newline and carriage return escaped. NUL, which
/// PostgreSQL refuses in text, becomes U+FFFD ([`text`]).
#[derive(Default)]
struct CopyText(Vec<u8>);

impl CopyText {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn row<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) {
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.0.push(b'\t');
            }
            self.cell(cell);
        }
        self.0.push(b'\n');
    }

    fn cell(&mut self, cell: Cell<'_>) {
        let out = &mut self.0;
        match cell {
            Cell::Int(None) | Cell::Text(None) => out.extend_from_slice(b"\\N"),
            Cell::Int(Some(v)) => {
                let _ = write!(out, "{v}");
            }
            Cell::Text(Some(s)) => {
                // Byte by byte: every byte with a meaning here is ASCII, and never part
                // of a longer UTF-8 sequence.
                for &b in s.as_bytes() {
                    match b {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        0 => out.extend_from_slice("\u{FFFD}".as_bytes()),
                        b => out.push(b),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_the_format_gives_meaning_to() {
        let mut rows = CopyText::default();
        rows.row([
            Cell::int(-42),
            Cell::Int(None),
            Cell::Text(None),
            Cell::text("a\tb\nc\rd\\e\0f é \\N"),
        ]);
        rows.row([Cell::text(""), Cell::int(0)]);
        assert_eq!(
            String::from_utf8(rows.0).expect("utf8"),
            "-42\t\\N\t\\N\ta\\tb\\nc\\rd\\\\e\u{FFFD}f é \\\\N\n\t0\n"
        );
    }
}
