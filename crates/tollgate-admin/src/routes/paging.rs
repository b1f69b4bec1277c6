//! Keyset paging shared by the admin lists that page with a cursor (`AT_MS.ID`, as
//! the call log's): the limit and cursor read from the query string, a 400 naming the
//! parameter otherwise.

use crate::error::AdminError;

/// Rows per page when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: u32 = 100;
/// The most rows a page may ask for.
pub(crate) const MAX_LIMIT: u32 = 1000;

fn invalid(param: &str, message: impl Into<String>) -> AdminError {
    AdminError::Invalid {
        message: message.into(),
        param: Some(param.to_string()),
    }
}

/// `limit`: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub(crate) fn limit(v: Option<&str>) -> Result<u32, AdminError> {
    match v {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|v| (1..=MAX_LIMIT).contains(v))
            .ok_or_else(|| invalid("limit", format!("limit: expected 1 to {MAX_LIMIT}"))),
    }
}

/// `cursor`: the `next_cursor` of a previous page.
pub(crate) fn cursor(v: Option<&str>) -> Result<Option<(i64, String)>, AdminError> {
    v.map(|c| tollgate_store::decode_cursor(c).map_err(|e| invalid("cursor", e.to_string())))
        .transpose()
}

/// The page of `rows` (fetched with `limit + 1`) and the cursor after its last row.
pub(crate) fn page<T>(
    mut rows: Vec<T>,
    limit: u32,
    position: impl Fn(&T) -> (i64, &str),
) -> (Vec<T>, Option<String>) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|r| {
            let (at, id) = position(r);
            format!("{at}.{id}")
        })
    } else {
        None
    };
    (rows, next)
}
