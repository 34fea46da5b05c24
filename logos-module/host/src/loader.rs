//! Loading a module image the way Logos Core's Qt-free host does (`native_module_host.cpp`).
//!
//! Owns the image's lifetime: `dlopen(RTLD_NOW | RTLD_LOCAL)`, the 12 required symbols of
//! `logos_module_impl.h` (any missing fails the load, naming it), the protocol MAJOR check, the
//! `name` check through `dispatch("name", "[]")`, the outbound tokens (`core` and
//! `capability_module`, both the host credential), the optional host-services grant, the emit
//! callback, the context (module directory, instance id = last component of the persistence
//! path, persistence path), serialised dispatch wrapped in `set_call_caller` push/pop, and the
//! stop: refuse new calls, drain, `set_unload_done_callback`, `about_to_unload()` (1 → wait for
//! the callback until the deadline), clear both callbacks, `dlclose`.
//!
//! It does not know what the module does nor where events go: the caller supplies an
//! [`EventSink`].

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::{Value, json};

use crate::exports::PROTOCOL_MAJOR;

/// The symbols every module image must export, in `logos_module_impl.h` order.
pub const REQUIRED_SYMBOLS: [&str; 12] = [
    "logos_module_dispatch",
    "logos_module_get_methods",
    "logos_module_set_context",
    "logos_module_set_emit_callback",
    "logos_module_accept_token",
    "logos_module_accept_inbound_token",
    "logos_module_grant_host_services",
    "logos_module_set_unload_done_callback",
    "logos_module_about_to_unload",
    "logos_module_set_call_caller",
    "logos_module_get_protocol_version",
    "logos_module_string_free",
];

type EmitCb = unsafe extern "C" fn(*const c_char, *const c_char, *mut c_void);
type UnloadDoneCb = unsafe extern "C" fn(*mut c_void);

type DispatchFn = unsafe extern "C" fn(*const c_char, *const c_char) -> *mut c_char;
type GetMethodsFn = unsafe extern "C" fn() -> *mut c_char;
type SetContextFn = unsafe extern "C" fn(*const c_char, *const c_char, *const c_char);
type SetEmitFn = unsafe extern "C" fn(Option<EmitCb>, *mut c_void);
type TokenFn = unsafe extern "C" fn(*const c_char, *const c_char) -> c_int;
type GrantFn = unsafe extern "C" fn(*const c_char) -> c_int;
type SetUnloadFn = unsafe extern "C" fn(Option<UnloadDoneCb>, *mut c_void);
type AboutToUnloadFn = unsafe extern "C" fn() -> c_int;
type SetCallerFn = unsafe extern "C" fn(*const c_char);
type VersionFn = unsafe extern "C" fn() -> *const c_char;
type FreeFn = unsafe extern "C" fn(*mut c_char);

#[derive(Clone, Copy)]
struct Abi {
    dispatch: DispatchFn,
    get_methods: GetMethodsFn,
    set_context: SetContextFn,
    set_emit_callback: SetEmitFn,
    accept_token: TokenFn,
    /// Resolved (it is required) but only called by a host that routes inbound tokens.
    #[allow(dead_code)]
    accept_inbound_token: TokenFn,
    grant_host_services: GrantFn,
    set_unload_done_callback: SetUnloadFn,
    about_to_unload: AboutToUnloadFn,
    set_call_caller: SetCallerFn,
    protocol_version: VersionFn,
    string_free: FreeFn,
}

/// Receives the module's events: `(event_name, data_json)`, from any module thread.
pub type EventSink = Box<dyn Fn(&str, &str) + Send + Sync>;

/// How to load one image.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The image file (`libdemls_module.so`).
    pub path: PathBuf,
    /// The name the image must answer to `dispatch("name")`.
    pub name: String,
    /// The host credential, handed as the `core` and `capability_module` tokens.
    pub credential: String,
    /// A JSON array of host services to grant; `None` grants nothing (the default).
    pub host_services: Option<String>,
    /// The instance persistence path (may be empty: no persistence).
    pub persistence: PathBuf,
}

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `dlopen` failed.
    #[error("failed to load native module: {0}")]
    Open(String),
    /// A required symbol is missing.
    #[error("missing required symbol: {0}")]
    MissingSymbol(&'static str),
    /// The image's protocol MAJOR differs from the host's.
    #[error("incompatible logos-protocol version {0}")]
    IncompatibleVersion(String),
    /// The image answers to another name.
    #[error("module name mismatch: expected '{expected}'{}", got.as_ref().map(|g| format!(", got '{g}'")).unwrap_or_default())]
    NameMismatch {
        /// The expected name.
        expected: String,
        /// The name it answered, when it answered a string.
        got: Option<String>,
    },
    /// The image refused its outbound tokens.
    #[error("module refused its outbound auth token")]
    TokenRefused,
    /// The image refused the host-services grant.
    #[error("module refused host-services grant")]
    GrantRefused,
    /// A path or option cannot cross the C boundary (interior NUL).
    #[error("invalid option: {0}")]
    InvalidOption(&'static str),
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopOutcome {
    /// Every running call finished before the deadline.
    pub drained: bool,
    /// The module was quiescent, or signalled its unload before the deadline.
    pub unloaded: bool,
}

#[derive(Default)]
struct Calls {
    active: usize,
    unloading: bool,
}

struct Shared {
    calls: Mutex<Calls>,
    calls_changed: Condvar,
    unload_done: Mutex<bool>,
    unload_changed: Condvar,
    /// Serialises dispatch (the ABI's threading rule).
    serial: Mutex<()>,
    sink: EventSink,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A loaded, started module image.
pub struct Module {
    handle: *mut c_void,
    abi: Abi,
    name: String,
    shared: Arc<Shared>,
    stopped: bool,
}

// SAFETY: the ABI lets the host call the image from any thread (calls are serialised here), and
// the handle is only used by `stop`, which takes `&mut self`.
unsafe impl Send for Module {}
// SAFETY: as above: every shared-reference entry point serialises on `Shared`.
unsafe impl Sync for Module {}

unsafe extern "C" fn emit_trampoline(event: *const c_char, data: *const c_char, user: *mut c_void) {
    if event.is_null() || user.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `user` is the `Shared` installed with this callback; it outlives the
        // installation (the callback is cleared before it is dropped); strings are borrowed.
        let shared = unsafe { &*(user as *const Shared) };
        let event = unsafe { CStr::from_ptr(event) }.to_string_lossy();
        let data = if data.is_null() {
            "[]".into()
        } else {
            unsafe { CStr::from_ptr(data) }.to_string_lossy()
        };
        (shared.sink)(&event, &data);
    });
}

unsafe extern "C" fn unload_done_trampoline(user: *mut c_void) {
    if user.is_null() {
        return;
    }
    // SAFETY: as in `emit_trampoline`.
    let shared = unsafe { &*(user as *const Shared) };
    *lock(&shared.unload_done) = true;
    shared.unload_changed.notify_all();
}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a thread-local string.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "dlopen failed".into()
    } else {
        // SAFETY: non-NULL, NUL-terminated.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

/// The MAJOR of a semver string, read as C's `strtol` reads it; -1 when absent or negative.
pub fn protocol_major(version: Option<&str>) -> i64 {
    let Some(v) = version else { return -1 };
    let t = v.trim_start();
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<i64>() {
        Ok(n) if !neg => n,
        Ok(0) => 0,
        _ => -1,
    }
}

fn cstring(s: &str, what: &'static str) -> Result<CString, LoadError> {
    CString::new(s).map_err(|_| LoadError::InvalidOption(what))
}

impl Module {
    /// Loads and starts the image; on any refusal the image is closed again.
    pub fn start(options: &LoadOptions, sink: EventSink) -> Result<Self, LoadError> {
        let path = cstring(&options.path.to_string_lossy(), "module path")?;
        // SAFETY: a valid path string; flags as the native host uses them.
        let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(LoadError::Open(dl_error()));
        }
        let shared = Arc::new(Shared {
            calls: Mutex::default(),
            calls_changed: Condvar::new(),
            unload_done: Mutex::new(false),
            unload_changed: Condvar::new(),
            serial: Mutex::new(()),
            sink,
        });
        let abi = match Self::resolve(handle) {
            Ok(abi) => abi,
            Err(e) => {
                // SAFETY: the handle from dlopen above, closed once.
                unsafe { libc::dlclose(handle) };
                return Err(e);
            }
        };
        let mut module = Module {
            handle,
            abi,
            name: options.name.clone(),
            shared,
            stopped: false,
        };
        if let Err(e) = module.handshake(options) {
            // Refused before any callback was installed: close the image, no unload handshake.
            module.stopped = true;
            // SAFETY: as above.
            unsafe { libc::dlclose(handle) };
            return Err(e);
        }
        Ok(module)
    }

    fn resolve(handle: *mut c_void) -> Result<Abi, LoadError> {
        let mut found = [std::ptr::null_mut::<c_void>(); 12];
        for (slot, name) in found.iter_mut().zip(REQUIRED_SYMBOLS) {
            let c = CString::new(name).map_err(|_| LoadError::MissingSymbol(name))?;
            // SAFETY: a live handle and a symbol name.
            let sym = unsafe {
                libc::dlerror();
                libc::dlsym(handle, c.as_ptr())
            };
            if sym.is_null() {
                return Err(LoadError::MissingSymbol(name));
            }
            *slot = sym;
        }
        // SAFETY: each symbol has the signature `logos_module_impl.h` declares for it.
        unsafe {
            Ok(Abi {
                dispatch: std::mem::transmute::<*mut c_void, DispatchFn>(found[0]),
                get_methods: std::mem::transmute::<*mut c_void, GetMethodsFn>(found[1]),
                set_context: std::mem::transmute::<*mut c_void, SetContextFn>(found[2]),
                set_emit_callback: std::mem::transmute::<*mut c_void, SetEmitFn>(found[3]),
                accept_token: std::mem::transmute::<*mut c_void, TokenFn>(found[4]),
                accept_inbound_token: std::mem::transmute::<*mut c_void, TokenFn>(found[5]),
                grant_host_services: std::mem::transmute::<*mut c_void, GrantFn>(found[6]),
                set_unload_done_callback: std::mem::transmute::<*mut c_void, SetUnloadFn>(found[7]),
                about_to_unload: std::mem::transmute::<*mut c_void, AboutToUnloadFn>(found[8]),
                set_call_caller: std::mem::transmute::<*mut c_void, SetCallerFn>(found[9]),
                protocol_version: std::mem::transmute::<*mut c_void, VersionFn>(found[10]),
                string_free: std::mem::transmute::<*mut c_void, FreeFn>(found[11]),
            })
        }
    }

    fn handshake(&self, options: &LoadOptions) -> Result<(), LoadError> {
        let version = self.protocol_version();
        if protocol_major(version.as_deref()) != PROTOCOL_MAJOR {
            return Err(LoadError::IncompatibleVersion(
                version.unwrap_or_else(|| "<missing>".into()),
            ));
        }
        let answered = self
            .raw_dispatch(c"name", c"[]")
            .and_then(|t| serde_json::from_str::<Value>(&t).ok());
        match answered {
            Some(Value::String(got)) if got == options.name => {}
            other => {
                return Err(LoadError::NameMismatch {
                    expected: options.name.clone(),
                    got: other.and_then(|v| v.as_str().map(str::to_owned)),
                });
            }
        }
        let credential = cstring(&options.credential, "credential")?;
        // SAFETY: valid strings; symbols resolved from the image.
        let accepted = unsafe {
            (self.abi.accept_token)(c"core".as_ptr(), credential.as_ptr()) == 0
                && (self.abi.accept_token)(c"capability_module".as_ptr(), credential.as_ptr()) == 0
        };
        if !accepted {
            return Err(LoadError::TokenRefused);
        }
        if let Some(services) = options.host_services.as_deref().filter(|s| !s.is_empty()) {
            let services = cstring(services, "host services")?;
            // SAFETY: as above.
            if unsafe { (self.abi.grant_host_services)(services.as_ptr()) } != 0 {
                return Err(LoadError::GrantRefused);
            }
        }
        let module_dir = std::path::absolute(&options.path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let persistence = options.persistence.to_string_lossy().into_owned();
        let instance = if persistence.is_empty() {
            String::new()
        } else {
            options
                .persistence
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let (dir, instance, persistence) = (
            cstring(&module_dir.to_string_lossy(), "module dir")?,
            cstring(&instance, "instance id")?,
            cstring(&persistence, "persistence path")?,
        );
        // SAFETY: `shared` outlives the installation: the callback is cleared in `stop`.
        unsafe {
            (self.abi.set_emit_callback)(
                Some(emit_trampoline),
                Arc::as_ptr(&self.shared) as *mut c_void,
            );
        }
        // SAFETY: valid strings, borrowed for the call.
        unsafe { (self.abi.set_context)(dir.as_ptr(), instance.as_ptr(), persistence.as_ptr()) };
        Ok(())
    }

    /// The name the module was loaded as.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The protocol version the image reports.
    pub fn protocol_version(&self) -> Option<String> {
        // SAFETY: a static string owned by the image (not freed).
        let v = unsafe { (self.abi.protocol_version)() };
        if v.is_null() {
            return None;
        }
        // SAFETY: non-NULL, NUL-terminated.
        Some(unsafe { CStr::from_ptr(v) }.to_string_lossy().into_owned())
    }

    fn take_string(&self, p: *mut c_char) -> Option<String> {
        if p.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated string the image returned; freed once with its own free.
        let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        unsafe { (self.abi.string_free)(p) };
        Some(s)
    }

    fn raw_dispatch(&self, method: &CStr, args: &CStr) -> Option<String> {
        // SAFETY: valid strings borrowed for the call.
        let p = unsafe { (self.abi.dispatch)(method.as_ptr(), args.as_ptr()) };
        self.take_string(p)
    }

    /// Dispatches one call as `caller` (a caller JSON object; `{"kind":"host"}` when `None`).
    /// `None` is the ABI's structural failure (the image returned NULL). Once the module is
    /// stopping, answers the `dispatch_failed` "module is unloading" error object.
    pub fn dispatch(&self, method: &str, args_json: &str, caller: Option<&str>) -> Option<String> {
        {
            let mut calls = lock(&self.shared.calls);
            if calls.unloading {
                return Some(
                    json!({"code": "dispatch_failed", "message": "module is unloading",
                           "origin": self.name})
                    .to_string(),
                );
            }
            calls.active += 1;
        }
        let result = (|| {
            let method = CString::new(method).ok()?;
            let args = CString::new(args_json).ok()?;
            let caller = CString::new(caller.unwrap_or(r#"{"kind":"host"}"#)).ok()?;
            let _serial = lock(&self.shared.serial);
            // SAFETY: push/pop around exactly one dispatch, on this thread.
            unsafe { (self.abi.set_call_caller)(caller.as_ptr()) };
            let out = self.raw_dispatch(&method, &args);
            unsafe { (self.abi.set_call_caller)(std::ptr::null()) };
            out
        })();
        lock(&self.shared.calls).active -= 1;
        self.shared.calls_changed.notify_all();
        result
    }

    /// The module's method/event metadata (`get_methods`).
    pub fn methods(&self) -> Option<String> {
        let _serial = lock(&self.shared.serial);
        // SAFETY: a heap string freed with the image's free.
        let p = unsafe { (self.abi.get_methods)() };
        self.take_string(p)
    }

    /// Stops the module: refuses new calls, drains running ones, runs the unload handshake
    /// (bounded by `deadline`), clears the callbacks and closes the image.
    pub fn stop(mut self, deadline: Instant) -> StopOutcome {
        self.stop_inner(deadline)
    }

    fn stop_inner(&mut self, deadline: Instant) -> StopOutcome {
        self.stopped = true;
        let drained = {
            let mut calls = lock(&self.shared.calls);
            calls.unloading = true;
            loop {
                if calls.active == 0 {
                    break true;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break false;
                }
                calls = self
                    .shared
                    .calls_changed
                    .wait_timeout(calls, left)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
        };
        let user = Arc::as_ptr(&self.shared) as *mut c_void;
        // SAFETY: `shared` outlives the installation (cleared below before any drop).
        let pending = unsafe {
            (self.abi.set_unload_done_callback)(Some(unload_done_trampoline), user);
            (self.abi.about_to_unload)()
        };
        let unloaded = if pending == 1 {
            let mut done = lock(&self.shared.unload_done);
            loop {
                if *done {
                    break true;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break false;
                }
                done = self
                    .shared
                    .unload_changed
                    .wait_timeout(done, left)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
        } else {
            true
        };
        // SAFETY: clearing the callbacks; after these return the image calls neither.
        unsafe {
            (self.abi.set_emit_callback)(None, std::ptr::null_mut());
            (self.abi.set_unload_done_callback)(None, std::ptr::null_mut());
            libc::dlclose(self.handle);
        }
        StopOutcome { drained, unloaded }
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        if !self.stopped {
            self.stop_inner(Instant::now() + std::time::Duration::from_secs(3));
        }
    }
}
