//! The sandbox's one error type, answered as Crypto.com Pay's error body.
//!
//! Every refusal — bad key, unknown id, bad parameter, wrong state, injected fault — leaves
//! through [`ApiError`]'s `IntoResponse`, so each has the service's shape
//! `{"error":{"type","code","error_message","param"}}` and nothing reaches a client as a
//! bare 500 or a plain-text framework rejection.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use paydesk_protocol::payment::{ApiErrorBody, ApiErrorDetail};

pub const INVALID_REQUEST: &str = "invalid_request_error";
pub const AUTHENTICATION: &str = "authentication_error";
pub const RATE_LIMIT: &str = "rate_limit_error";
pub const API_ERROR: &str = "api_error";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, code: &'static str, message: String) -> Self {
        ApiError {
            status,
            kind,
            code,
            message,
            param: None,
            retry_after: None,
        }
    }

    pub fn missing(param: &str) -> Self {
        ApiError {
            param: Some(param.to_owned()),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "parameter_missing",
                format!("{param} is required"),
            )
        }
    }

    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        ApiError {
            param: Some(param.to_owned()),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "parameter_invalid",
                message.into(),
            )
        }
    }

    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "invalid_body",
            message.into(),
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            AUTHENTICATION,
            "unauthorized",
            "invalid or missing secret key".to_owned(),
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            INVALID_REQUEST,
            "resource_missing",
            format!("no such {what}"),
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, INVALID_REQUEST, code, message.into())
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                RATE_LIMIT,
                "too_many_requests",
                "too many requests, slow down".to_owned(),
            )
        }
    }

    /// A 5xx the fault injector asked for.
    pub fn injected(status: StatusCode) -> Self {
        Self::new(
            status,
            API_ERROR,
            "internal_error",
            "the sandbox injected a server error".to_owned(),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            INVALID_REQUEST,
            "method_not_allowed",
            "this path does not take this method".to_owned(),
        )
    }

    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            "body_too_large",
            "the request body is too large".to_owned(),
        )
    }

    pub fn body_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            INVALID_REQUEST,
            "body_timeout",
            "the request body did not arrive in time".to_owned(),
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            API_ERROR,
            "shutting_down",
            "the sandbox is shutting down".to_owned(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody {
            error: ApiErrorDetail {
                kind: self.kind.to_owned(),
                code: self.code.to_owned(),
                error_message: Some(self.message),
                param: self.param,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
