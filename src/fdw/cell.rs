//! Rust state owned by the executor: a scan's today, a modify's (the writes) later.
//!
//! The state lives in a Box that a palloc'd `StateCell` in the executor's query context points
//! to; the cell is registered with that context's reset callbacks. Two owners may release it,
//! whichever comes first: the node's End callback, or the reset callback when the query fails
//! or is cancelled before End. The cell's pointer is swapped to NULL on release, so the Box is
//! freed exactly once, and a node whose state is gone finds None.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pgrx::pg_sys;

use crate::cognito::runtime::drop_in_runtime;

/// What a node's `fdw_state` points to.
#[repr(C)]
pub struct StateCell<T> {
    callback: pg_sys::MemoryContextCallback,
    state: *mut T,
}

impl<T> StateCell<T> {
    /// Move `state` into a new cell in `mcxt`, released when `mcxt` is reset unless
    /// `release` came first.
    ///
    /// # Safety
    /// `mcxt` is a live memory context that outlives every use of the cell (the executor's
    /// query context for a node's state); on the backend thread.
    pub unsafe fn install(mcxt: pg_sys::MemoryContext, state: T) -> *mut StateCell<T> {
        // SAFETY: the cell is allocated in the context whose reset calls `release_cell`, so
        // it outlives every use; zeroed memory is a valid callback struct and a NULL state.
        unsafe {
            let cell = pg_sys::MemoryContextAllocZero(mcxt, std::mem::size_of::<StateCell<T>>())
                .cast::<StateCell<T>>();
            (*cell).state = Box::into_raw(Box::new(state));
            (*cell).callback.func = Some(release_cell::<T>);
            (*cell).callback.arg = cell.cast();
            pg_sys::MemoryContextRegisterResetCallback(mcxt, &mut (*cell).callback);
            cell
        }
    }

    /// The state, or None when the cell is NULL or already released.
    ///
    /// # Safety
    /// `cell` is NULL or a cell made by `install` for `T`, whose context is not yet reset;
    /// the reference is not held across a call that may release it.
    pub unsafe fn get<'a>(cell: *mut StateCell<T>) -> Option<&'a mut T> {
        // SAFETY: by the contract above, a non-NULL cell is live; its state pointer is NULL
        // once released, else a live Box owned by the cell.
        unsafe {
            if cell.is_null() || (*cell).state.is_null() {
                None
            } else {
                Some(&mut *(*cell).state)
            }
        }
    }

    /// Free the state now (an End callback); a later reset then finds nothing to free.
    ///
    /// # Safety
    /// As for `get`.
    pub unsafe fn release(cell: *mut StateCell<T>) {
        if !cell.is_null() {
            // SAFETY: a live cell made by `install` for `T`, as `release_cell` expects.
            unsafe { release_cell::<T>(cell.cast()) }
        }
    }
}

/// Runs when the context's memory goes away, also on error or cancel, or from `release`.
/// Must never raise: PostgreSQL may be in the middle of aborting.
///
/// # Safety
/// Called only as the memory context callback `install` registers, or by `release`, with
/// `arg` a live `StateCell<T>` made by `install`.
unsafe extern "C-unwind" fn release_cell<T>(arg: *mut c_void) {
    let cell = arg.cast::<StateCell<T>>();
    // SAFETY: arg is a StateCell<T> registered by `install`, which lives in the context being
    // reset and so is still valid during its own callbacks.
    let state = unsafe { std::mem::replace(&mut (*cell).state, std::ptr::null_mut()) };
    if !state.is_null() {
        // SAFETY: state came from Box::into_raw and the null swap above makes this its only
        // release. Dropping never needs PostgreSQL; a panic in a destructor is swallowed so
        // that it cannot unwind into PostgreSQL's abort path.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            drop_in_runtime(unsafe { Box::from_raw(state) })
        }));
    }
}
