//! One journal batch into the database: its calls and charges in one transaction,
//! with fixed statements (see [`crate::calls`] for why fixed).

use std::sync::LazyLock;

use sqlx::AnyConnection;

use super::Entry;
use crate::calls::{Fixed, insert_calls_on, multi_row_insert, text};
use crate::error::StoreError;
use crate::store::Store;
use crate::{CallRecord, LedgerEntry};

const LEDGER_COLUMNS: &str = "consumer, at, amount_micros, kind, reason, actor, request_id";
const LEDGER_COLUMN_COUNT: usize = 7;
const CHARGES_PER_STATEMENT: usize = 64;
/// A request is charged at most once (a unique index on charges' request ids).
const LEDGER_SUFFIX: &str = "ON CONFLICT DO NOTHING";

static CHARGES_MANY: LazyLock<Fixed> = LazyLock::new(|| {
    Fixed::new(multi_row_insert(
        "credit_ledger",
        LEDGER_COLUMNS,
        LEDGER_COLUMN_COUNT,
        CHARGES_PER_STATEMENT,
        LEDGER_SUFFIX,
    ))
});
static CHARGES_ONE: LazyLock<Fixed> = LazyLock::new(|| {
    Fixed::new(multi_row_insert(
        "credit_ledger",
        LEDGER_COLUMNS,
        LEDGER_COLUMN_COUNT,
        1,
        LEDGER_SUFFIX,
    ))
});

/// Writes a batch, all or nothing. Replaying a batch is harmless: calls and charges
/// already stored (same request id) are skipped. Charges keep the log's order, so
/// ledger ids follow it.
pub(crate) async fn write_batch(store: &Store, entries: &[Entry]) -> Result<(), StoreError> {
    let mut calls: Vec<&CallRecord> = Vec::new();
    let mut charges: Vec<&LedgerEntry> = Vec::new();
    for e in entries {
        match e {
            Entry::Call(c) => calls.push(c),
            Entry::Charge(l) => charges.push(l),
        }
    }
    let mut tx = store.pool.begin().await?;
    insert_calls_on(&mut tx, &calls).await?;
    insert_charges_on(&mut tx, &charges).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_charges_on(
    conn: &mut AnyConnection,
    charges: &[&LedgerEntry],
) -> Result<(), StoreError> {
    let (many, one) = (CHARGES_MANY.on(conn), CHARGES_ONE.on(conn));
    let mut chunks = charges.chunks_exact(CHARGES_PER_STATEMENT);
    for chunk in &mut chunks {
        let mut q = sqlx::query(many);
        for e in chunk {
            q = q
                .bind(text(&e.consumer))
                .bind(e.at.timestamp_millis())
                .bind(e.amount_micros)
                .bind(e.kind.as_str())
                .bind(text(&e.reason))
                .bind(text(&e.actor))
                .bind(e.request_id.as_deref().map(text));
        }
        q.execute(&mut *conn).await?;
    }
    for e in chunks.remainder() {
        sqlx::query(one)
            .bind(text(&e.consumer))
            .bind(e.at.timestamp_millis())
            .bind(e.amount_micros)
            .bind(e.kind.as_str())
            .bind(text(&e.reason))
            .bind(text(&e.actor))
            .bind(e.request_id.as_deref().map(text))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
