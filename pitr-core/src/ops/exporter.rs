//! `pitr exporter`: what it refreshes in the background and serves.

pub use crate::metrics::exporter::ExporterState;
pub use crate::run::exporter::{Collector, RefreshReport};
pub use crate::run::serve::{Limits, fit_descriptor_limit, serve};
