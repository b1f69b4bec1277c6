//! OpenAPI import and export of REST services (PRODUCT.md, "REST services and
//! prompt-APIs"): a 3.0 or 3.1 document becomes a service with a route per operation,
//! and a service's routes become a 3.1 document whose server is the gateway.

mod export;
mod import;
mod resolve;

pub use export::GatewayUrl;
pub(crate) use export::document;
pub(crate) use import::{import, parse_body};

use crate::error::AdminError;

/// Why a document cannot be imported. Each names the place in the document to blame
/// (`param`, e.g. `paths./pets/{id}.get.parameters[0]`) when there is one.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    #[error(
        "The body must be an OpenAPI document with Content-Type application/json, application/yaml, application/x-yaml or text/yaml (got `{0}`)"
    )]
    ContentType(String),
    #[error("The body is not valid {format}: {message}")]
    Syntax {
        format: &'static str,
        message: String,
    },
    #[error("The document must be an object")]
    NotAnObject,
    #[error("`{field}` {message}")]
    Field { field: String, message: String },
    #[error(
        "`openapi` must be a 3.0.x or 3.1.x version (Swagger 2.0 documents must be converted first)"
    )]
    Version,
    #[error("Not a valid OpenAPI {version} document at `{path}`: {message}")]
    Structure {
        version: &'static str,
        path: String,
        message: String,
    },
    #[error("`$ref` `{reference}` under `{at}` {why}")]
    Ref {
        at: String,
        reference: String,
        why: String,
    },
    #[error("`{0}`: a path item given as a `$ref` is not supported; inline it")]
    PathItemRef(String),
    #[error("The document nests too deeply under `{0}`")]
    TooDeep(String),
    #[error("Expanding the document's `$ref`s makes it too large (over 500000 values)")]
    TooLarge,
    #[error("The document has no operations under `paths`: there would be no route")]
    NoOperations,
}

impl ImportError {
    fn param(&self) -> Option<String> {
        match self {
            ImportError::Field { field, .. } => Some(field.clone()),
            ImportError::Version => Some("openapi".into()),
            ImportError::Structure { path, .. } => Some(path.clone()),
            ImportError::Ref { at, .. } | ImportError::TooDeep(at) => Some(at.clone()),
            ImportError::PathItemRef(at) => Some(at.clone()),
            ImportError::NoOperations => Some("paths".into()),
            ImportError::ContentType(_)
            | ImportError::Syntax { .. }
            | ImportError::NotAnObject
            | ImportError::TooLarge => None,
        }
    }
}

impl From<ImportError> for AdminError {
    fn from(e: ImportError) -> Self {
        AdminError::Invalid {
            param: e.param(),
            message: e.to_string(),
        }
    }
}
