//! Request bodies from JSON with errors that name the field.

use crate::error::Error;

/// Any request type from JSON, errors naming the field: `serde_path_to_error` keeps the
/// path that serde alone drops (the server parses every route's body with this, the CLI
/// every batch line).
pub fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // Our own validation errors already start with "`field`: ".
        let inner = inner.strip_prefix(&format!("`{path}`: ")).map(str::to_string).unwrap_or(inner);
        if path == "." || path.is_empty() {
            // Unknown and missing fields are reported at the root; serde's message names them.
            let field = inner.split('`').nth(1).unwrap_or("body").to_string();
            Error::Field { field, message: inner }
        } else {
            Error::Field { field: path, message: inner }
        }
    })
}
