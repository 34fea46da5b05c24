//! The module context the host stamps with `logos_module_set_context`: the module's path,
//! its instance id and the instance persistence path (where everything the module stores
//! lives). Any of them may be absent.

use std::path::PathBuf;
use std::sync::Mutex;

/// What the host told the module about where it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The module's directory (or image path), if given.
    pub module_path: Option<String>,
    /// The instance id, if given.
    pub instance_id: Option<String>,
    /// The per-instance persistence directory, if given (and not empty).
    pub persistence_path: Option<PathBuf>,
}

static CONTEXT: Mutex<Option<Context>> = Mutex::new(None);

/// Records the context (replacing an earlier one; a running node keeps the path it started
/// with).
pub(crate) fn set(context: Context) {
    *CONTEXT.lock().unwrap_or_else(|p| p.into_inner()) = Some(context);
}

/// The context, if the host set one.
pub fn get() -> Option<Context> {
    CONTEXT.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// A borrowed C string argument as an owned, non-empty string.
pub(crate) fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}
