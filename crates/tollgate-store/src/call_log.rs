//! Reading the call log: filtered, newest first, paged by an opaque keyset cursor (the
//! last row's `(at, request_id)`), so a page costs the same however deep it is and
//! rows written meanwhile neither repeat nor shift the pages. Exports page through the
//! same query ([`CallPager`]), holding one page in memory at a time.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::calls::{CALL_COLUMNS, CallRecord, decode_call, text};
use crate::error::StoreError;
use crate::store::Store;

/// Which calls to list. Every field narrows; `None` matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Strictly before.
    pub to: Option<DateTime<Utc>>,
    pub consumer: Option<String>,
    pub team: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub status: Option<u16>,
    pub error_code: Option<String>,
}

/// One page of calls, newest first, and where the next begins.
#[derive(Debug, Clone, PartialEq)]
pub struct CallPage {
    pub calls: Vec<CallRecord>,
    /// None on the last page.
    pub next_cursor: Option<String>,
}

/// Most calls one page may hold.
pub const MAX_PAGE: u32 = 1000;

/// The pattern every cursor matches, and every string matching it is a valid one (a
/// position in the log: the last record's time in milliseconds and its request id),
/// so the OpenAPI document can state exactly what the server accepts.
pub const CURSOR_PATTERN: &str = r"^[0-9]{1,15}\..*$";

/// The cursor after `c`: `AT_MS.REQUEST_ID`. Any such position is valid, whether or
/// not a record is there: the next page starts strictly after it.
pub fn encode_cursor(c: &CallRecord) -> String {
    format!("{}.{}", c.at.timestamp_millis(), c.request_id)
}

/// The `(at_ms, request_id)` of a cursor, or an `InvalidInput` error.
pub fn decode_cursor(cursor: &str) -> Result<(i64, String), StoreError> {
    let bad = || {
        StoreError::InvalidInput(
            "cursor: expected AT_MS.REQUEST_ID, as `next_cursor` gives it".to_string(),
        )
    };
    let (at, id) = cursor.split_once('.').ok_or_else(bad)?;
    if at.is_empty() || at.len() > 15 || !at.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let at: i64 = at.parse().map_err(|_| bad())?;
    Ok((at, id.to_string()))
}

enum Arg {
    Int(i64),
    Text(String),
}

/// The query of a page: filters, the cursor's position, newest first.
fn page_sql(filter: &CallFilter, after: Option<&(i64, String)>) -> (String, Vec<Arg>) {
    let mut conds: Vec<String> = Vec::new();
    let mut args: Vec<Arg> = Vec::new();
    fn push(conds: &mut Vec<String>, args: &mut Vec<Arg>, cond: &str, arg: Arg) {
        args.push(arg);
        conds.push(cond.replace('?', &format!("${}", args.len())));
    }
    if let Some(from) = filter.from {
        push(
            &mut conds,
            &mut args,
            "at >= ?",
            Arg::Int(from.timestamp_millis()),
        );
    }
    if let Some(to) = filter.to {
        push(
            &mut conds,
            &mut args,
            "at < ?",
            Arg::Int(to.timestamp_millis()),
        );
    }
    let texts = [
        ("consumer", &filter.consumer),
        ("team", &filter.team),
        ("model", &filter.model),
        ("provider", &filter.provider),
        ("error_code", &filter.error_code),
    ];
    for (col, v) in texts {
        if let Some(v) = v {
            push(
                &mut conds,
                &mut args,
                &format!("{col} = ?"),
                Arg::Text(text(v)),
            );
        }
    }
    if let Some(status) = filter.status {
        push(
            &mut conds,
            &mut args,
            "status = ?",
            Arg::Int(i64::from(status)),
        );
    }
    if let Some((at, id)) = after {
        // `at <= x` first: a range the index can seek; the rest breaks the ties.
        push(&mut conds, &mut args, "at <= ?", Arg::Int(*at));
        args.push(Arg::Int(*at));
        args.push(Arg::Text(id.clone()));
        conds.push(format!(
            "(at < ${} OR request_id < ${})",
            args.len() - 1,
            args.len()
        ));
    }
    let mut sql = format!("SELECT {CALL_COLUMNS} FROM calls");
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    args.push(Arg::Int(0)); // the limit, set by the caller
    sql.push_str(&format!(
        " ORDER BY at DESC, request_id DESC LIMIT ${}",
        args.len()
    ));
    (sql, args)
}

impl Store {
    /// Up to `limit` (1..=[`MAX_PAGE`]) calls matching `filter`, newest first (ties by
    /// request id, descending), after `cursor` (a previous page's `next_cursor`).
    pub async fn list_calls(
        &self,
        filter: &CallFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<CallPage, StoreError> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(StoreError::InvalidInput(format!(
                "limit: expected 1 to {MAX_PAGE}"
            )));
        }
        let after = cursor.map(decode_cursor).transpose()?;
        let (sql, mut args) = page_sql(filter, after.as_ref());
        if let Some(last) = args.last_mut() {
            // One more than asked: whether a next page exists.
            *last = Arg::Int(i64::from(limit) + 1);
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
            };
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut calls = rows
            .iter()
            .map(decode_call)
            .collect::<Result<Vec<_>, _>>()?;
        let more = calls.len() > limit as usize;
        calls.truncate(limit as usize);
        let next_cursor = if more {
            calls.last().map(encode_cursor)
        } else {
            None
        };
        Ok(CallPage { calls, next_cursor })
    }

    /// Pages through every call matching `filter`, `page` at a time (for exports).
    pub fn call_pager(&self, filter: CallFilter, page: u32) -> CallPager {
        CallPager {
            store: self.clone(),
            filter,
            page: page.clamp(1, MAX_PAGE),
            cursor: None,
            done: false,
        }
    }
}

/// Walks the call log page by page; see [`Store::call_pager`].
#[derive(Debug)]
pub struct CallPager {
    store: Store,
    filter: CallFilter,
    page: u32,
    cursor: Option<String>,
    done: bool,
}

impl CallPager {
    /// The next page, or None after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<CallRecord>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .store
            .list_calls(&self.filter, self.page, self.cursor.as_deref())
            .await?;
        self.cursor = page.next_cursor;
        self.done = self.cursor.is_none();
        if page.calls.is_empty() {
            return Ok(None);
        }
        Ok(Some(page.calls))
    }
}

/// The explain document of a call (PRODUCT.md, "Call records, analytics and
/// explain"): `{"request_id", "status", "error_code", "steps"}`, the steps as the
/// gateway recorded them (an empty list if the stored trail is not a JSON array).
pub fn explain_document(record: &CallRecord) -> Value {
    let steps = match record.steps.parse() {
        Value::Array(steps) => Value::Array(steps),
        _ => Value::Array(Vec::new()),
    };
    json!({
        "request_id": record.request_id,
        "status": record.status,
        "error_code": record.error_code,
        "steps": steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = CallRecord {
            request_id: "req_a.b".into(),
            at: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap_or_default(),
            ..CallRecord::default()
        };
        let cur = encode_cursor(&c);
        assert_eq!(
            decode_cursor(&cur).ok(),
            Some((1_700_000_000_123, "req_a.b".to_string()))
        );
        assert!(decode_cursor("!!").is_err());
        assert!(decode_cursor("x.y").is_err());
        assert!(decode_cursor("12").is_err());
        assert!(decode_cursor("").is_err());
        assert!(decode_cursor("-1.a").is_err());
        assert!(
            decode_cursor("1234567890123456.a").is_err(),
            "16 digits: beyond the pattern"
        );
        for ok in ["0.", "1.x", "999999999999999.req.a.b"] {
            assert!(decode_cursor(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn explain_documents_carry_the_steps() {
        let c = CallRecord {
            request_id: "r".into(),
            status: 402,
            error_code: Some("budget_exceeded".into()),
            steps: json!([{"step": "budget", "outcome": "refused"}]).into(),
            ..CallRecord::default()
        };
        assert_eq!(
            explain_document(&c),
            json!({"request_id": "r", "status": 402, "error_code": "budget_exceeded",
                   "steps": [{"step": "budget", "outcome": "refused"}]})
        );
    }
}
