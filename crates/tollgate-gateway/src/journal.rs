//! The journal of call records and charges lives in the store crate
//! ([`tollgate_store::journal`]): a local write-ahead log in front of the database, so
//! that no settled request's record or charge is lost. Re-exported here for the
//! gateway's users.

pub use tollgate_store::journal::{Entry, Journal, JournalError, JournalOptions, JournalStatus};
