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
        let mut report = ErrorReport::new(self.code, printable(self.message), "cognito_fdw");
        if let Some(detail) = self.detail {
            report = report.set_detail(printable(detail));
        }
        if let Some(hint) = self.hint {
            report = report.set_hint(printable(hint));
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ereport(ERROR) returned")
    }
}

/// The longest message text we pass on: a server's error message is its own to choose.
const MAX_MESSAGE_CHARS: usize = 2000;

/// Text a PostgreSQL message can carry: a NUL would cut it short (or fail the report), and a
/// broken server may send a megabyte of error message.
fn printable(text: String) -> String {
    let mut text = match text.contains('\0') {
        true => text.replace('\0', "\\0"),
        false => text,
    };
    if let Some((cut, _)) = text.char_indices().nth(MAX_MESSAGE_CHARS) {
        text.truncate(cut);
        text.push_str("...");
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_no_nul_and_no_megabytes() {
        assert_eq!(printable("a\0b".into()), "a\\0b");
        let long = printable("é".repeat(100_000));
        assert_eq!(long.chars().count(), MAX_MESSAGE_CHARS + 3);
        assert!(long.ends_with("é..."));
        assert_eq!(printable("plain".into()), "plain");
    }
}
