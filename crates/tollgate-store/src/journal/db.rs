//! One journal batch into the database: its calls and charges in one transaction
//! ([`crate::batch`]).

use super::Entry;
use crate::error::StoreError;
use crate::store::Store;
use crate::{CallRecord, LedgerEntry};

/// Writes a batch, all or nothing; replaying one is harmless ([`crate::batch`]).
pub(crate) async fn write_batch(store: &Store, entries: &[Entry]) -> Result<(), StoreError> {
    let mut calls: Vec<&CallRecord> = Vec::new();
    let mut charges: Vec<&LedgerEntry> = Vec::new();
    for e in entries {
        match e {
            Entry::Call(c) => calls.push(c),
            Entry::Charge(l) => charges.push(l),
        }
    }
    crate::batch::write_batch(store, &calls, &charges).await?;
    Ok(())
}
