//! Writing a batch of call records and charges: the one write path of the journal's
//! database writer, [`Store::insert_calls`] and [`Store::append_ledger_batch`].
//!
//! A batch is all or nothing, in one transaction: the calls, the rollup rows they add
//! (only for calls actually inserted, so a replayed batch adds nothing) and the
//! charges. Replaying a batch is harmless: calls and charges already stored (same
//! request id) are skipped.
//!
//! Two ways to send it, one per engine:
//! - SQLite: fixed multi-row statements with bound parameters ([`crate::calls`] says
//!   why fixed).
//! - PostgreSQL: `COPY` into per-connection staging tables, then one
//!   `INSERT … SELECT` per table ([`copy`]): no statement of thousands of
//!   parameters to parse and bind per batch.

mod copy;

pub(crate) use copy::configure as configure_copy_pool;

use std::sync::LazyLock;

use sqlx::AnyConnection;

use crate::calls::{CallRecord, Fixed, insert_calls_on, multi_row_insert};
use crate::error::StoreError;
use crate::ledger::{LEDGER_COLUMN_COUNT, LEDGER_COLUMNS, LedgerEntry, ledger_cells};
use crate::store::Store;

/// What a batch stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Written {
    /// Calls inserted (those already stored, or repeated in the batch, are not).
    pub calls: u64,
    /// Charges and other ledger entries inserted (a second charge for a request is not).
    pub charges: u64,
}

/// Writes `calls` and `charges` in one transaction. Charges keep their order, so
/// ledger ids follow it.
pub(crate) async fn write_batch(
    store: &Store,
    calls: &[&CallRecord],
    charges: &[&LedgerEntry],
) -> Result<Written, StoreError> {
    if calls.is_empty() && charges.is_empty() {
        return Ok(Written::default());
    }
    if let Some(pool) = &store.copy_pool {
        return copy::write_batch(pool, calls, charges).await;
    }
    let mut tx = store.pool.begin().await?;
    let calls = insert_calls_on(&mut tx, calls).await?;
    let charges = insert_charges_on(&mut tx, charges).await?;
    tx.commit().await?;
    Ok(Written { calls, charges })
}

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

async fn insert_charges_on(
    conn: &mut AnyConnection,
    charges: &[&LedgerEntry],
) -> Result<u64, StoreError> {
    let (many, one) = (CHARGES_MANY.on(conn), CHARGES_ONE.on(conn));
    let mut inserted = 0;
    let mut chunks = charges.chunks_exact(CHARGES_PER_STATEMENT);
    for chunk in &mut chunks {
        let mut q = sqlx::query(many);
        for e in chunk {
            for cell in ledger_cells(e) {
                q = cell.bind(q);
            }
        }
        inserted += q.execute(&mut *conn).await?.rows_affected();
    }
    for e in chunks.remainder() {
        let mut q = sqlx::query(one);
        for cell in ledger_cells(e) {
            q = cell.bind(q);
        }
        inserted += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok(inserted)
}
