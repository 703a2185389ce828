//! One error type for everything the wrapper reports.
//!
//! Code below the FDW callbacks returns `Result<_, FdwError>` and never talks to PostgreSQL's
//! error machinery itself; the callbacks turn an `FdwError` into an `ereport(ERROR)` on the
//! backend thread, outside any async code. Messages are built from names, codes and values the
//! user gave us in the clear (pool ids, endpoints, column names), never from credentials.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Once;

use pgrx::pg_sys::panic::{CaughtError, ErrorReport, ErrorReportWithLevel};
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
        self.report(PgLogLevel::ERROR);
        unreachable!("ereport(ERROR) returned")
    }

    /// Send this as a WARNING to the client and the log; execution goes on.
    pub fn warn(self) {
        self.report(PgLogLevel::WARNING);
    }

    fn report(self, level: PgLogLevel) {
        let mut report = ErrorReport::new(self.code, printable(self.message), "cognito_fdw");
        if let Some(detail) = self.detail {
            report = report.set_detail(printable(detail));
        }
        if let Some(hint) = self.hint {
            report = report.set_hint(printable(hint));
        }
        report.report(level);
    }
}

thread_local! {
    /// Where the latest panic on this thread happened, recorded by our panic hook.
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Record each panic's location, then hand the panic to the hook installed before ours
/// (pgrx's, which keeps the message out of the log on the backend thread).
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info.location().map(|l| {
                let file = l.file();
                // A dependency's path starts with the build machine's home directory.
                let file = file
                    .find("/registry/src/")
                    .and_then(|i| file[i + "/registry/src/".len()..].split_once('/'))
                    .map_or(file, |(_index, rest)| rest);
                format!("{file}:{}", l.line())
            });
            PANIC_AT.with(|p| *p.borrow_mut() = at);
            previous(info)
        }));
    });
}

/// A PostgreSQL ERROR travels through Rust as an unwind too; it is not ours to turn into
/// anything else.
fn is_postgres_error(payload: &(dyn Any + Send)) -> bool {
    payload.is::<CaughtError>()
        || payload.is::<ErrorReportWithLevel>()
        || payload.is::<ErrorReport>()
}

/// Run `work`, turning a Rust panic (a bug here or in the SDK, such as a header value it cannot
/// encode) into an internal error. The message is fixed, with the panic's location: a panic's
/// own text may hold anything, credentials included, and pgrx would show it with a backtrace.
pub fn catch_panic<T>(work: impl FnOnce() -> T) -> FdwResult<T> {
    install_panic_hook();
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(value) => Ok(value),
        Err(payload) if is_postgres_error(payload.as_ref()) => resume_unwind(payload),
        Err(payload) => {
            // Dropped unread: the text stays out of every message.
            drop(payload);
            let at = PANIC_AT
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "an unknown place".into());
            Err(FdwError::new(
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("internal error in cognito_fdw: a panic at {at}"),
            )
            .with_detail("The query was stopped; the session can go on. Please report this."))
        }
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
    fn a_panic_becomes_an_internal_error_without_its_text() {
        let err = catch_panic(|| -> u32 { panic!("called unwrap on TOPSECRET") }).unwrap_err();
        assert_eq!(err.code, PgSqlErrorCode::ERRCODE_INTERNAL_ERROR);
        assert!(
            err.message
                .starts_with("internal error in cognito_fdw: a panic at src/error.rs:"),
            "{}",
            err.message
        );
        let shown = format!("{err:?}");
        assert!(
            !shown.contains("TOPSECRET") && !shown.contains("unwrap"),
            "{shown}"
        );
        assert_eq!(catch_panic(|| 7), Ok(7));
    }

    #[test]
    fn a_panic_while_waiting_on_the_runtime_is_an_error() {
        use crate::cognito::runtime::{runtime, slice};
        let rt = runtime().unwrap();
        let secret = String::from("TOPSECRET");
        let failing = std::pin::pin!(async move {
            // As the SDK unwraps a header value it cannot encode.
            let header: Result<u8, String> = std::hint::black_box(Err(secret));
            header.unwrap()
        });
        let err = slice(rt, failing).unwrap_err();
        assert_eq!(err.code, PgSqlErrorCode::ERRCODE_INTERNAL_ERROR);
        assert!(err.message.contains("src/error.rs:"), "{}", err.message);
        assert!(!format!("{err:?}").contains("TOPSECRET"));
        // The runtime survives the panic: the next future runs on it.
        assert_eq!(slice(rt, std::pin::pin!(async { 5 })), Ok(Some(5)));
    }

    #[test]
    fn messages_carry_no_nul_and_no_megabytes() {
        assert_eq!(printable("a\0b".into()), "a\\0b");
        let long = printable("é".repeat(100_000));
        assert_eq!(long.chars().count(), MAX_MESSAGE_CHARS + 3);
        assert!(long.ends_with("é..."));
        assert_eq!(printable("plain".into()), "plain");
    }
}
