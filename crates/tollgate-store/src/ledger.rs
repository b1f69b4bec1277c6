//! Prepaid credits: an append-only ledger per consumer. There is no update or delete:
//! a mistake is corrected by another entry. The balance is the sum of the amounts. Not
//! configuration, so appending never bumps the revision.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use tollgate_core::money::Micros;

use crate::calls::Cell;
use crate::error::StoreError;
use crate::from_ms;
use crate::store::Store;

/// What a ledger entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LedgerKind {
    /// Credit bought or granted: a positive amount.
    Topup,
    /// What a request cost: a negative (or zero) amount, at most one per request id.
    Charge,
    /// Credit given back: a positive amount.
    Refund,
    /// A correction either way.
    Adjustment,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Topup => "topup",
            LedgerKind::Charge => "charge",
            LedgerKind::Refund => "refund",
            LedgerKind::Adjustment => "adjustment",
        }
    }

    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "topup" => Ok(LedgerKind::Topup),
            "charge" => Ok(LedgerKind::Charge),
            "refund" => Ok(LedgerKind::Refund),
            "adjustment" => Ok(LedgerKind::Adjustment),
            other => Err(StoreError::InvalidData(format!(
                "unknown ledger kind {other:?}"
            ))),
        }
    }
}

impl std::fmt::Display for LedgerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One ledger line. Times round-trip at millisecond precision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LedgerEntry {
    /// Assigned by the store, increasing in the order entries were appended; ignored by
    /// [`Store::append_ledger`] and [`Store::append_ledger_batch`].
    pub id: i64,
    pub consumer: String,
    pub at: DateTime<Utc>,
    /// Micro-USD: positive for top-ups and refunds, negative for charges.
    pub amount_micros: Micros,
    pub kind: LedgerKind,
    /// Why (free text; may be empty for gateway charges).
    pub reason: String,
    /// Who: `admin` (the admin token), a console username, or `gateway`.
    pub actor: String,
    /// The request a charge (or its refund) belongs to.
    pub request_id: Option<String>,
}

impl LedgerEntry {
    /// An entry dated now, without a request id (`id` is assigned when appended).
    pub fn new(
        consumer: impl Into<String>,
        kind: LedgerKind,
        amount_micros: Micros,
        reason: impl Into<String>,
        actor: impl Into<String>,
    ) -> LedgerEntry {
        LedgerEntry {
            id: 0,
            consumer: consumer.into(),
            at: Utc::now(),
            amount_micros,
            kind,
            reason: reason.into(),
            actor: actor.into(),
            request_id: None,
        }
    }

    /// A gateway charge of `cost_micros` (a positive cost) for one request.
    pub fn charge(
        consumer: impl Into<String>,
        request_id: impl Into<String>,
        cost_micros: Micros,
    ) -> LedgerEntry {
        LedgerEntry {
            request_id: Some(request_id.into()),
            ..LedgerEntry::new(
                consumer,
                LedgerKind::Charge,
                cost_micros.saturating_neg(),
                "request",
                "gateway",
            )
        }
    }

    fn validate(&self) -> Result<(), StoreError> {
        if self.consumer.is_empty() {
            return Err(StoreError::InvalidInput(
                "a ledger entry needs a consumer".to_string(),
            ));
        }
        if self.actor.is_empty() {
            return Err(StoreError::InvalidInput(
                "a ledger entry needs an actor".to_string(),
            ));
        }
        let sign_ok = match self.kind {
            LedgerKind::Topup | LedgerKind::Refund => self.amount_micros > 0,
            LedgerKind::Charge => self.amount_micros <= 0,
            LedgerKind::Adjustment => self.amount_micros != 0,
        };
        if !sign_ok {
            return Err(StoreError::InvalidInput(format!(
                "a {} of {} micro-USD: top-ups and refunds must be positive, charges not \
                 positive, adjustments not zero",
                self.kind, self.amount_micros
            )));
        }
        Ok(())
    }
}

/// The columns the batch writer stores, in [`ledger_cells`] order.
pub(crate) const LEDGER_COLUMNS: &str =
    "consumer, at, amount_micros, kind, reason, actor, request_id";
pub(crate) const LEDGER_COLUMN_COUNT: usize = 7;

/// An entry's values, in [`LEDGER_COLUMNS`] order.
pub(crate) fn ledger_cells(e: &LedgerEntry) -> [Cell<'_>; LEDGER_COLUMN_COUNT] {
    [
        Cell::text(&e.consumer),
        Cell::int(e.at.timestamp_millis()),
        Cell::int(e.amount_micros),
        Cell::text(e.kind.as_str()),
        Cell::text(&e.reason),
        Cell::text(&e.actor),
        Cell::opt_text(&e.request_id),
    ]
}
const LEDGER_SELECT: &str =
    "SELECT id, consumer, at, amount_micros, kind, reason, actor, request_id FROM credit_ledger";

fn decode_entry(row: &AnyRow) -> Result<LedgerEntry, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(LedgerEntry {
        id: row.try_get("id")?,
        consumer: row.try_get("consumer")?,
        at: from_ms(row.try_get::<i64, _>("at")?)?,
        amount_micros: row.try_get("amount_micros")?,
        kind: LedgerKind::parse(&kind)?,
        reason: row.try_get("reason")?,
        actor: row.try_get("actor")?,
        request_id: row.try_get("request_id")?,
    })
}

impl Store {
    /// Appends one entry and returns it with its id. A charge for a request id that was
    /// already charged is not recorded again: the existing charge is returned.
    pub async fn append_ledger(&self, entry: &LedgerEntry) -> Result<LedgerEntry, StoreError> {
        entry.validate()?;
        // A transaction of its own so that an audited top-up records its audit row
        // with it (the ledger is not configuration: no revision bump).
        let mut tx = self.pool.begin().await?;
        self.write_audit(&mut tx).await?;
        let row = sqlx::query(
            "INSERT INTO credit_ledger \
             (consumer, at, amount_micros, kind, reason, actor, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(entry.consumer.as_str())
        .bind(entry.at.timestamp_millis())
        .bind(entry.amount_micros)
        .bind(entry.kind.as_str())
        .bind(entry.reason.as_str())
        .bind(entry.actor.as_str())
        .bind(entry.request_id.clone())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(row) = row {
            return Ok(LedgerEntry {
                id: row.try_get("id")?,
                ..entry.clone()
            });
        }
        // Only the one-charge-per-request index can make the insert a no-op.
        let existing = sqlx::query(
            "SELECT id, consumer, at, amount_micros, kind, reason, actor, request_id \
             FROM credit_ledger WHERE kind = 'charge' AND request_id = $1",
        )
        .bind(entry.request_id.clone())
        .fetch_optional(&self.pool)
        .await?;
        match existing {
            Some(row) => decode_entry(&row),
            None => Err(StoreError::Conflict(format!(
                "ledger entry for request {:?}",
                entry.request_id
            ))),
        }
    }

    /// Appends a batch (typically the gateway's charges) in one transaction; charges
    /// for request ids already charged (before or earlier in the batch) are skipped.
    /// Returns how many entries were recorded. The whole batch is rejected, and nothing
    /// written, if any entry is invalid.
    pub async fn append_ledger_batch(&self, entries: &[LedgerEntry]) -> Result<u64, StoreError> {
        if entries.is_empty() {
            return Ok(0);
        }
        for e in entries {
            e.validate()?;
        }
        let entries: Vec<&LedgerEntry> = entries.iter().collect();
        Ok(crate::batch::write_batch(self, &[], &entries)
            .await?
            .charges)
    }

    /// A consumer's entries, newest first: at most `limit`, and only those older than
    /// the entry `before` (an id from a previous page) when given.
    pub async fn list_ledger(
        &self,
        consumer: &str,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{LEDGER_SELECT} WHERE consumer = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        )))
        .bind(consumer)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_entry).collect()
    }

    /// The sum of a consumer's entries (0 without any).
    pub async fn credit_balance(&self, consumer: &str) -> Result<Micros, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT) AS balance \
             FROM credit_ledger WHERE consumer = $1",
        )
        .bind(consumer)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("balance")?)
    }

    /// Every consumer's balance, by name (to seed in-memory counters at start).
    pub async fn credit_balances(&self) -> Result<Vec<(String, Micros)>, StoreError> {
        let rows = sqlx::query(
            "SELECT consumer, CAST(SUM(amount_micros) AS BIGINT) AS balance \
             FROM credit_ledger GROUP BY consumer ORDER BY consumer",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("consumer")?, r.try_get("balance")?)))
            .collect()
    }
}
