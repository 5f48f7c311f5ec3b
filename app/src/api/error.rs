//! The failure shape shared by every API route: `{"ok": false, "error": "..."}` with a 4xx/5xx
//! status code.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
    Bytes, Decodes, Encodes,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An API failure: a message for the caller plus the HTTP status it is answered with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the request itself is wrong (missing field, unknown id, malformed JSON).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 404: no such route or resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 500: the server failed (I/O, database); the message says what.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }
}

/// What goes over the wire. The status travels as the HTTP status, not in the body.
#[derive(Serialize, Deserialize)]
struct FailureBody {
    ok: bool,
    error: String,
}

impl Serialize for ApiError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        FailureBody {
            ok: false,
            error: self.message.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ApiError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let body = FailureBody::deserialize(deserializer)?;
        // The client only sees the body; 400 is the honest default for a reported failure.
        Ok(ApiError::bad_request(body.error))
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // On the server, Deserialization means the request arguments did not decode.
            ServerFnErrorErr::Args(msg) | ServerFnErrorErr::Deserialization(msg) => {
                ApiError::bad_request(format!("invalid request: {msg}"))
            }
            ServerFnErrorErr::MissingArg(msg) => {
                ApiError::bad_request(format!("missing argument: {msg}"))
            }
            ServerFnErrorErr::Registration(msg) => ApiError::not_found(msg),
            ServerFnErrorErr::UnsupportedRequestMethod(msg) => ApiError::new(405, msg),
            // Request errors happen on the client (network).
            ServerFnErrorErr::Request(msg) => {
                ApiError::new(503, format!("server unreachable: {msg}"))
            }
            other => ApiError::internal(other.to_string()),
        }
    }

    fn ser(&self) -> Bytes {
        // Server functions answer every error with 500 unless the response options say
        // otherwise; this is the single place where an error chooses its status code.
        #[cfg(feature = "ssr")]
        if let (Some(options), Ok(code)) = (
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
            http::StatusCode::from_u16(self.status),
        ) {
            options.set_status(code);
        }
        <JsonEncoding as Encodes<ApiError>>::encode(self)
            .expect("a string and a bool always serialise as JSON")
    }

    fn de(data: Bytes) -> Self {
        <JsonEncoding as Decodes<ApiError>>::decode(data.clone()).unwrap_or_else(|_| {
            ApiError::internal(
                String::from_utf8_lossy(&data)
                    .chars()
                    .take(300)
                    .collect::<String>(),
            )
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_the_failure_shape() {
        let body = serde_json::to_value(ApiError::bad_request("task is required")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"ok": false, "error": "task is required"})
        );
    }

    #[test]
    fn argument_errors_are_client_errors() {
        let err = ApiError::from_server_fn_error(ServerFnErrorErr::Args("expected `,`".into()));
        assert_eq!(err.status, 400);
        assert!(err.message.contains("expected `,`"));
    }

    #[test]
    fn decodes_what_it_encodes() {
        let err = ApiError::bad_request("unknown model: x");
        assert_eq!(ApiError::de(err.ser()).message, "unknown model: x");
    }
}
