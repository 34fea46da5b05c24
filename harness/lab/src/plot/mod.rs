//! (placeholder: being written — the signatures the lab's output uses)
#![allow(missing_docs, clippy::missing_errors_doc)]
use std::path::Path;

use crate::observe::Observations;

#[derive(Debug, thiserror::Error)]
#[error("plot: {0}")]
pub struct PlotError(String);

pub struct Series<'a> {
    pub label: &'a str,
    pub points: Vec<(f64, f64)>,
}

pub fn latency_cdf(_: &Path, _: &str, _: &[(&str, &[f64])]) -> Result<(), PlotError> {
    Ok(())
}

pub fn bytes_over_time(_: &Path, _: &str, _: &str, _: &[Series]) -> Result<(), PlotError> {
    Ok(())
}

pub fn epoch_timeline(_: &Path, _: &str, _: &Observations) -> Result<(), PlotError> {
    Ok(())
}
