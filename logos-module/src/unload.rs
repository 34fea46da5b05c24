//! The unload handshake: `logos_module_set_unload_done_callback` and
//! `logos_module_about_to_unload`.
//!
//! `about_to_unload` answers 0 when nothing runs, and 1 when a node is still running (or
//! shutting down): the shutdown then finishes on a thread of its own, which calls the
//! installed callback **exactly once** when the node, its transport and its runtime are
//! stopped. A second `about_to_unload` during that shutdown answers 1 again without a second
//! callback.

use std::ffi::c_void;
use std::sync::Mutex;

/// The callback type of `logos_module_impl.h`.
pub type UnloadDoneCallback = unsafe extern "C" fn(user_data: *mut c_void);

#[derive(Default)]
struct Unload {
    cb: Option<(UnloadDoneCallback, usize)>,
    /// A shutdown for unload is under way; its end calls the callback.
    pending: bool,
}

static UNLOAD: Mutex<Unload> = Mutex::new(Unload {
    cb: None,
    pending: false,
});

fn lock() -> std::sync::MutexGuard<'static, Unload> {
    UNLOAD.lock().unwrap_or_else(|p| p.into_inner())
}

/// Installs (or clears) the callback.
pub(crate) fn set_callback(cb: Option<UnloadDoneCallback>, user_data: *mut c_void) {
    lock().cb = cb.map(|cb| (cb, user_data as usize));
}

/// Prepares for unload: 0 if quiescent, 1 if a shutdown runs and will signal.
pub(crate) fn about_to_unload() -> i32 {
    let mut u = lock();
    if u.pending {
        return 1;
    }
    match crate::module::begin_shutdown() {
        None => 0,
        Some(shutdown) => {
            u.pending = true;
            drop(u);
            let spawned = std::thread::Builder::new()
                .name("demls-module-unload".into())
                .spawn(move || {
                    shutdown.finish();
                    done();
                });
            match spawned {
                Ok(_) => 1,
                Err(e) => {
                    tracing::error!(error = %e, "could not start the unload thread");
                    lock().pending = false;
                    0
                }
            }
        }
    }
}

/// The shutdown for unload ended: calls the callback once.
fn done() {
    let cb = {
        let mut u = lock();
        u.pending = false;
        u.cb
    };
    if let Some((cb, user_data)) = cb {
        // SAFETY: the host installed this callback for exactly this argument.
        unsafe { cb(user_data as *mut c_void) };
    }
}
