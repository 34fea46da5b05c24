//! (placeholder: being written — the signatures the CLI uses)
#![allow(missing_docs)]
use std::path::PathBuf;

use crate::observe::Observations;
use crate::progress::Progress;
use crate::scenario::Scenario;

pub struct LabOptions {
    pub demls_bin: PathBuf,
    pub work_dir: PathBuf,
    pub keep_work_dir: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("unavailable: {0}")]
    Unavailable(String),
}

pub fn available() -> Result<(), LabError> {
    Err(LabError::Unavailable("not yet".into()))
}

pub fn run(
    _: &Scenario,
    _: u64,
    _: &LabOptions,
    _: &mut dyn Progress,
) -> Result<Observations, LabError> {
    Err(LabError::Unavailable("not yet".into()))
}
