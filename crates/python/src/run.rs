//! Model work from Python: without the GIL, panics caught, and Ctrl-C honoured.
//!
//! The work runs on rayon's global pool (a job that may borrow the caller's data, through
//! `rayon::in_place_scope`) while the calling thread, the GIL released, waits for it and
//! every [`POLL`] takes the GIL back for a moment to run Python's signal handlers
//! (`Python::check_signals`; handlers only run on the main thread, so this is the thread
//! that can see Ctrl-C). On `KeyboardInterrupt` (or any exception a handler raises) the
//! engine's cancel flag is set: generation, steering and discovery stop at their next check,
//! and the exception is raised once the job has returned. Verbs without a cancel point finish
//! first and then raise it. The pool's threads stay warm between calls; a thread spawned per
//! call cost about 2 ms of a 128-token `top_features` (its fresh allocator arena and stack).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use pyo3::prelude::*;

use crate::error::{from_panic, saex_error};

/// How often a waiting call looks for Ctrl-C.
const POLL: Duration = Duration::from_millis(50);

/// Run `f` without the GIL on rayon's pool (the engine's own threads, kept warm between
/// calls), giving it a cancel flag that Ctrl-C sets; its error, a panic, or the interrupt
/// become the Python exception.
pub fn detached<T: Send>(py: Python<'_>, f: impl FnOnce(&AtomicBool) -> saex_engine::Result<T> + Send) -> PyResult<T> {
    let cancel = AtomicBool::new(false);
    let mut ended: Option<std::thread::Result<saex_engine::Result<T>>> = None;
    let interrupt = py.detach(|| {
        let (done, finished) = mpsc::channel::<()>();
        let cancel = &cancel;
        let slot = &mut ended;
        let mut interrupt: Option<PyErr> = None;
        rayon::in_place_scope(|scope| {
            scope.spawn(move |_| {
                *slot = Some(std::panic::catch_unwind(AssertUnwindSafe(|| f(cancel))));
                // The receiver lives until the scope ends; a failed send changes nothing.
                let _ = done.send(());
            });
            loop {
                match finished.recv_timeout(POLL) {
                    Err(mpsc::RecvTimeoutError::Timeout) if interrupt.is_none() => {
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            cancel.store(true, Ordering::Relaxed);
                            interrupt = Some(e);
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        });
        interrupt
    });
    if let Some(e) = interrupt {
        return Err(e);
    }
    match ended {
        Some(Ok(r)) => r.map_err(saex_error),
        Some(Err(p)) => Err(from_panic(p)),
        None => Err(from_panic(Box::new("the model work ended without a result"))),
    }
}
