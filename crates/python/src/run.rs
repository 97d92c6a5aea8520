//! Model work from Python: without the GIL, panics caught, and Ctrl-C honoured.
//!
//! The work runs on a scoped worker thread while the calling thread, the GIL released, waits
//! for it and every [`POLL`] takes the GIL back for a moment to run Python's signal
//! handlers (`Python::check_signals`; handlers only run on the main thread, so this is the
//! thread that can see Ctrl-C). On `KeyboardInterrupt` (or any exception a handler raises)
//! the engine's cancel flag is set: generation, steering and discovery stop at their next
//! check, and the exception is raised once the worker has returned. Verbs without a cancel
//! point finish first and then raise it.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::error::{from_panic, saex_error};

/// How often a waiting call looks for Ctrl-C.
const POLL: Duration = Duration::from_millis(50);

/// The worker's stack: the main thread's usual 8 MiB, not a spawned thread's 2 MiB.
const STACK: usize = 8 << 20;

/// How the worker ended.
enum Ended<T> {
    Returned(saex_engine::Result<T>),
    Panicked(Box<dyn std::any::Any + Send>),
    NoThread(std::io::Error),
}

/// Run `f` without the GIL on a worker thread, giving it a cancel flag that Ctrl-C sets;
/// its error, a panic, or the interrupt become the Python exception.
pub fn detached<T: Send>(py: Python<'_>, f: impl FnOnce(&AtomicBool) -> saex_engine::Result<T> + Send) -> PyResult<T> {
    let cancel = AtomicBool::new(false);
    let (ended, interrupt) = py.detach(|| {
        std::thread::scope(|scope| {
            let (done, finished) = mpsc::channel::<()>();
            let cancel = &cancel;
            let worker = std::thread::Builder::new().stack_size(STACK).spawn_scoped(scope, move || {
                let out = std::panic::catch_unwind(AssertUnwindSafe(|| f(cancel)));
                // The receiver lives until the scope ends; a failed send changes nothing.
                let _ = done.send(());
                out
            });
            let worker = match worker {
                Ok(w) => w,
                Err(e) => return (Ended::NoThread(e), None),
            };
            let mut interrupt: Option<PyErr> = None;
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
            let ended = match worker.join() {
                Ok(Ok(r)) => Ended::Returned(r),
                Ok(Err(p)) | Err(p) => Ended::Panicked(p),
            };
            (ended, interrupt)
        })
    });
    if let Some(e) = interrupt {
        return Err(e);
    }
    match ended {
        Ended::Returned(r) => r.map_err(saex_error),
        Ended::Panicked(p) => Err(from_panic(p)),
        Ended::NoThread(e) => Err(PyRuntimeError::new_err(format!("cannot start a thread for the model work: {e}"))),
    }
}
