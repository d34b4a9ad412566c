//! The `pitr._pitr` extension module.
#![allow(unsafe_code)]
use pyo3::prelude::*;

#[pymodule]
fn _pitr(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
