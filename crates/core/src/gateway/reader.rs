//! The gateway as the realtime session's [`PaymentReader`]: one conditional read, its
//! errors sorted into what the session's retry policy needs to know.

use crate::reader::{PaymentReader, ReadError, ReadOutcome};

use super::{Fetched, Gateway, GatewayError};

impl From<GatewayError> for ReadError {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::RateLimited { retry_after } => ReadError::RateLimited { retry_after },
            GatewayError::NotFound => ReadError::NotFound,
            e if e.is_transient() => ReadError::Transient(e.to_string()),
            e => ReadError::Fatal(e.to_string()),
        }
    }
}

impl PaymentReader for Gateway {
    async fn read_payment(&self, id: &str, etag: Option<&str>) -> Result<ReadOutcome, ReadError> {
        match self.retrieve_payment_once(id, etag).await? {
            Fetched::Modified { payment, etag } => Ok(ReadOutcome::Modified { payment, etag }),
            Fetched::NotModified => Ok(ReadOutcome::NotModified),
        }
    }
}
