//! Python exceptions for pitr's errors.
//!
//! ```text
//! Exception
//!  └── PitrError            .code (the core's stable code), .step, .rolled_back
//!       ├── PitrInputError  also a ValueError: the caller's input (nothing was changed)
//!       └── RecoveryError   PostgreSQL did not stop at the target (or not in time)
//! ```
//!
//! Every `pitr_core::Error` becomes one of these through the one conversion
//! `From<Error> for PyErr`; the message is the core's, the cause chain (a failed step's own
//! error, an OS error) is kept as `__cause__`.

use pyo3::exceptions::{PyException, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

pyo3::create_exception!(
    pitr,
    PitrError,
    PyException,
    "Base class of every error pitr raises; `code` is the stable machine code."
);
pyo3::create_exception!(
    pitr,
    RecoveryError,
    PitrError,
    "PostgreSQL did not stop at the recovery target, or not in time."
);

/// `PitrInputError(PitrError, ValueError)`: two bases, so made with `type()`.
static INPUT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The `PitrInputError` class.
pub(crate) fn input_error_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    INPUT_ERROR
        .get_or_try_init(py, || {
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "pitr")?;
            namespace.set_item(
                "__doc__",
                "The caller's input was refused (bad spec, request, target or info); nothing \
                 was changed. Also a ValueError.",
            )?;
            let bases = PyTuple::new(
                py,
                [
                    py.get_type::<PitrError>().into_any(),
                    py.get_type::<PyValueError>().into_any(),
                ],
            )?;
            let class = py
                .get_type::<PyType>()
                .call1(("PitrInputError", bases, namespace))?;
            Ok::<_, PyErr>(class.cast_into::<PyType>()?.unbind())
        })
        .map(|t| t.bind(py))
}

/// Sets the class-level defaults of the attributes every `PitrError` has.
pub(crate) fn init_base(py: Python<'_>) -> PyResult<()> {
    let base = py.get_type::<PitrError>();
    base.setattr("code", "failed")?;
    base.setattr("step", py.None())?;
    base.setattr("rolled_back", py.None())?;
    Ok(())
}

/// An error of this module: from the core, or from Python (a value that is not JSON-like).
#[derive(Debug)]
pub(crate) enum Error {
    Core(pitr_core::Error),
    Py(PyErr),
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

impl From<pitr_core::Error> for Error {
    fn from(e: pitr_core::Error) -> Self {
        Error::Core(e)
    }
}

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Error::Py(e)
    }
}

impl From<pythonize::PythonizeError> for Error {
    fn from(e: pythonize::PythonizeError) -> Self {
        Error::Py(PyTypeError::new_err(format!(
            "expected plain data (dict, list, str, int, float, bool, None): {e}"
        )))
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::Py(e) => e,
            Error::Core(e) => Python::attach(|py| core_error(py, &e)),
        }
    }
}

/// The Python exception for a core error, with its cause chain.
fn core_error(py: Python<'_>, e: &pitr_core::Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let class = if e.is_input_error() {
            input_error_type(py)?.clone()
        } else if e.is_recovery_failure() {
            py.get_type::<RecoveryError>()
        } else {
            py.get_type::<PitrError>()
        };
        let exc = class.call1((e.to_string(),))?;
        exc.setattr("code", e.code())?;
        if let pitr_core::Error::Step {
            step, rolled_back, ..
        } = e
        {
            exc.setattr("step", step)?;
            exc.setattr("rolled_back", *rolled_back)?;
        }
        let err = PyErr::from_value(exc);
        err.set_cause(py, std::error::Error::source(e).map(|s| cause(py, s)));
        Ok(err)
    };
    build().unwrap_or_else(|failure| failure)
}

/// A cause: another core error, an OS error, or anything else as a `PitrError`.
fn cause(py: Python<'_>, e: &(dyn std::error::Error + 'static)) -> PyErr {
    // A failed step holds its error boxed.
    let core = e
        .downcast_ref::<pitr_core::Error>()
        .or_else(|| e.downcast_ref::<Box<pitr_core::Error>>().map(AsRef::as_ref));
    if let Some(core) = core {
        return core_error(py, core);
    }
    let err = match e.downcast_ref::<std::io::Error>() {
        Some(io) => match io.raw_os_error() {
            Some(errno) => PyOSError::new_err((errno, io.to_string())),
            None => PyOSError::new_err(io.to_string()),
        },
        None => PitrError::new_err(e.to_string()),
    };
    err.set_cause(py, e.source().map(|s| cause(py, s)));
    err
}
