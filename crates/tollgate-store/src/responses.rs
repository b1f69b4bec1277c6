//! Stored Responses (`/v1/responses` with `store: true`): kept per consumer, read for
//! `previous_response_id` and `GET /v1/responses/{id}`, deleted by `DELETE`.
//!
//! Every read and delete is scoped by the consumer: another consumer's id is simply
//! not found. The JSON columns are opaque text here; the gateway owns their shape.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::store::Store;
use crate::{from_ms, now_ms};

/// One stored response.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub id: String,
    pub consumer: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The Responses object, as JSON text.
    pub response: String,
    /// The conversation up to and including this response, as JSON text.
    pub conversation: String,
}

impl Store {
    /// Keeps a response of `consumer`. Writing an id again replaces it (a retried
    /// write is harmless).
    pub async fn insert_response(
        &self,
        id: &str,
        consumer: &str,
        response: &str,
        conversation: &str,
    ) -> Result<(), StoreError> {
        if id.is_empty() || consumer.is_empty() {
            return Err(StoreError::InvalidInput(
                "a stored response needs an id and a consumer".to_string(),
            ));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM responses WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO responses (id, consumer, created_at, response, conversation) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(consumer)
        .bind(now_ms())
        .bind(response)
        .bind(conversation)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The response `id` of `consumer`, if it has one by that id.
    pub async fn get_response(
        &self,
        consumer: &str,
        id: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        let row = sqlx::query(
            "SELECT id, consumer, created_at, response, conversation FROM responses \
             WHERE id = $1 AND consumer = $2",
        )
        .bind(id)
        .bind(consumer)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode_response).transpose()
    }

    /// Deletes the response `id` of `consumer`; whether there was one.
    pub async fn delete_response(&self, consumer: &str, id: &str) -> Result<bool, StoreError> {
        let res = sqlx::query("DELETE FROM responses WHERE id = $1 AND consumer = $2")
            .bind(id)
            .bind(consumer)
            .execute(&self.pool)
            .await?;
        Ok(res.rows_affected() > 0)
    }
}

fn decode_response(row: &AnyRow) -> Result<StoredResponse, StoreError> {
    Ok(StoredResponse {
        id: row.try_get("id")?,
        consumer: row.try_get("consumer")?,
        created_at: from_ms(row.try_get("created_at")?)?,
        response: row.try_get("response")?,
        conversation: row.try_get("conversation")?,
    })
}
