//! One error type for everything the wrapper reports.
//!
//! Code below the FDW callbacks returns `Result<_, FdwError>` and never talks to PostgreSQL's
//! error machinery itself; the callbacks turn an `FdwError` into an `ereport(ERROR)` on the
//! backend thread, outside any async code. Messages are built from names, codes and values the
//! user gave us in the clear (pool ids, endpoints, column names), never from credentials.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdwError {
    pub code: PgSqlErrorCode,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

pub type FdwResult<T> = Result<T, FdwError>;

impl FdwError {
    pub fn new(code: PgSqlErrorCode, message: impl Into<String>) -> Self {
        FdwError {
            code,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Raise this error as a PostgreSQL ERROR. Only call on the backend thread, outside the
    /// async runtime: pgrx turns the report into a Rust unwind that ends at the `#[pg_guard]`
    /// boundary of the current callback, dropping every Rust value on the way.
    pub fn raise(self) -> ! {
        let mut report = ErrorReport::new(self.code, self.message, "cognito_fdw");
        if let Some(detail) = self.detail {
            report = report.set_detail(detail);
        }
        if let Some(hint) = self.hint {
            report = report.set_hint(hint);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ereport(ERROR) returned")
    }
}

/// Unwrap a result on the backend thread, raising the error as a PostgreSQL ERROR.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for FdwResult<T> {
    fn or_raise(self) -> T {
        match self {
            Ok(value) => value,
            Err(error) => error.raise(),
        }
    }
}
