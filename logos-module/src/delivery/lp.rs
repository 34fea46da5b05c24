//! The `lp_*` consumer functions of logos-protocol (`logos_protocol.h`), resolved at run
//! time: first from the process (`dlsym(RTLD_DEFAULT)`: a host that links logos-protocol, or
//! the test host, which exports them), else from `dlopen(path, RTLD_NOW | RTLD_LOCAL)` of the
//! configured library or env `LOGOS_PROTOCOL_LIBRARY`. Tests and embedders may install a
//! table of their own ([`install`]), which then wins.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use super::error::DeliveryError;

/// `lp_result_cb`.
pub type ResultCb = unsafe extern "C" fn(ok: c_int, json: *const c_char, user_data: *mut c_void);
/// `lp_event_cb`.
pub type EventCb =
    unsafe extern "C" fn(event: *const c_char, data_json: *const c_char, user_data: *mut c_void);

/// `lp_client_create`.
pub type ClientCreateFn =
    unsafe extern "C" fn(*const c_char, *const c_char, *const c_char, *const c_char) -> *mut c_void;
/// `lp_client_destroy` and `lp_unsubscribe`.
pub type ReleaseFn = unsafe extern "C" fn(*mut c_void);
/// `lp_invoke`.
pub type InvokeFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    c_int,
    *mut *mut c_char,
    *mut *mut c_char,
) -> c_int;
/// `lp_invoke_async`.
pub type InvokeAsyncFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    c_int,
    ResultCb,
    *mut c_void,
) -> c_int;
/// `lp_subscribe`.
pub type SubscribeFn =
    unsafe extern "C" fn(*mut c_void, *const c_char, EventCb, *mut c_void) -> *mut c_void;
/// `lp_string_free`.
pub type StringFreeFn = unsafe extern "C" fn(*mut c_char);
/// `lp_token_save`.
pub type TokenSaveFn = unsafe extern "C" fn(*const c_char, *const c_char) -> c_int;

/// The functions this module uses, as C function pointers.
#[derive(Clone, Copy)]
pub struct LpFunctions {
    /// `lp_client_create(target, origin, target_transport_json, capability_transport_json)`.
    pub client_create: ClientCreateFn,
    /// `lp_client_destroy(client)`.
    pub client_destroy: ReleaseFn,
    /// `lp_invoke(client, method, args_json, timeout_ms, out_result, out_error)`.
    pub invoke: InvokeFn,
    /// `lp_invoke_async(client, method, args_json, timeout_ms, cb, user_data)`.
    pub invoke_async: InvokeAsyncFn,
    /// `lp_subscribe(client, event, cb, user_data)`.
    pub subscribe: SubscribeFn,
    /// `lp_unsubscribe(subscription)`.
    pub unsubscribe: ReleaseFn,
    /// `lp_string_free(s)`.
    pub string_free: StringFreeFn,
    /// `lp_token_save(module, token)`.
    pub token_save: TokenSaveFn,
}

/// A resolved set of `lp_*` functions and where they came from.
pub struct LpApi {
    fns: LpFunctions,
    /// `"process"`, `"installed"` or the library path.
    pub origin: String,
    /// Whether `createNode` succeeded through this table: the delivery node belongs to the
    /// delivery_module behind it and outlives any one transport (see `DeliveryTransport`).
    pub(crate) node_created: AtomicBool,
    /// Whether `start` succeeded through this table.
    pub(crate) node_started: AtomicBool,
}

/// The symbol names, in [`LpFunctions`] order.
pub const SYMBOLS: &[&str] = &[
    "lp_client_create",
    "lp_client_destroy",
    "lp_invoke",
    "lp_invoke_async",
    "lp_subscribe",
    "lp_unsubscribe",
    "lp_string_free",
    "lp_token_save",
];

static INSTALLED: Mutex<Option<&'static LpApi>> = Mutex::new(None);
static RESOLVED: Mutex<Option<&'static LpApi>> = Mutex::new(None);

/// Installs a table that [`resolve`] returns from now on (tests, embedders).
pub fn install(fns: LpFunctions) -> &'static LpApi {
    let api: &'static LpApi = Box::leak(Box::new(LpApi::new(fns, "installed".into())));
    *INSTALLED.lock().unwrap_or_else(|p| p.into_inner()) = Some(api);
    api
}

/// Looks the symbols up in `handle`; `Err(name)` names the first missing one.
fn lookup(handle: *mut c_void) -> Result<LpFunctions, &'static str> {
    let mut ptrs = [std::ptr::null_mut::<c_void>(); 8];
    for (slot, name) in ptrs.iter_mut().zip(SYMBOLS) {
        let c = CString::new(*name).map_err(|_| *name)?;
        // SAFETY: dlsym with a valid handle (or RTLD_DEFAULT) and a NUL-terminated name.
        let p = unsafe { libc::dlsym(handle, c.as_ptr()) };
        if p.is_null() {
            return Err(name);
        }
        *slot = p;
    }
    // SAFETY: each pointer is the named lp_* function, whose C signature (logos_protocol.h)
    // is the one of the field it is transmuted into.
    unsafe {
        Ok(LpFunctions {
            client_create: std::mem::transmute::<*mut c_void, ClientCreateFn>(ptrs[0]),
            client_destroy: std::mem::transmute::<*mut c_void, ReleaseFn>(ptrs[1]),
            invoke: std::mem::transmute::<*mut c_void, InvokeFn>(ptrs[2]),
            invoke_async: std::mem::transmute::<*mut c_void, InvokeAsyncFn>(ptrs[3]),
            subscribe: std::mem::transmute::<*mut c_void, SubscribeFn>(ptrs[4]),
            unsubscribe: std::mem::transmute::<*mut c_void, ReleaseFn>(ptrs[5]),
            string_free: std::mem::transmute::<*mut c_void, StringFreeFn>(ptrs[6]),
            token_save: std::mem::transmute::<*mut c_void, TokenSaveFn>(ptrs[7]),
        })
    }
}

/// The `lp_*` functions: an installed table, else the process's, else those of `library`
/// (or env `LOGOS_PROTOCOL_LIBRARY`). A success is kept for later calls.
pub fn resolve(library: Option<&str>) -> Result<&'static LpApi, DeliveryError> {
    if let Some(api) = *INSTALLED.lock().unwrap_or_else(|p| p.into_inner()) {
        return Ok(api);
    }
    let mut resolved = RESOLVED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(api) = *resolved {
        return Ok(api);
    }
    let from_process = lookup(libc::RTLD_DEFAULT);
    let api = match from_process {
        Ok(fns) => LpApi::new(fns, "process".into()),
        Err(missing) => {
            let path = library
                .map(str::to_owned)
                .or_else(|| std::env::var("LOGOS_PROTOCOL_LIBRARY").ok())
                .filter(|p| !p.is_empty())
                .ok_or(DeliveryError::NoProtocolLibrary(missing))?;
            let c = CString::new(path.clone())
                .map_err(|_| DeliveryError::Library(path.clone(), "path has a NUL".into()))?;
            // SAFETY: dlopen of a NUL-terminated path; the handle is kept for the process's life.
            let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if handle.is_null() {
                // SAFETY: dlerror returns NULL or a NUL-terminated message.
                let why = unsafe {
                    let e = libc::dlerror();
                    if e.is_null() {
                        "dlopen failed".to_owned()
                    } else {
                        CStr::from_ptr(e).to_string_lossy().into_owned()
                    }
                };
                return Err(DeliveryError::Library(path, why));
            }
            let fns = lookup(handle).map_err(|missing| {
                DeliveryError::Library(path.clone(), format!("symbol {missing} not found"))
            })?;
            LpApi::new(fns, path)
        }
    };
    let api: &'static LpApi = Box::leak(Box::new(api));
    *resolved = Some(api);
    tracing::info!(origin = %api.origin, "resolved the lp_* functions");
    Ok(api)
}

/// An owned copy of a string the library returned, released with `lp_string_free`.
fn take(api: &LpApi, s: *mut c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated string the library returned to us; freed right after.
    let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    // SAFETY: returned by this library, not freed yet.
    unsafe { (api.fns.string_free)(s) };
    Some(text)
}

fn c(s: &str) -> Result<CString, DeliveryError> {
    CString::new(s).map_err(|_| DeliveryError::Refused(format!("{s:?} has a NUL")))
}

impl LpApi {
    fn new(fns: LpFunctions, origin: String) -> LpApi {
        LpApi {
            fns,
            origin,
            node_created: AtomicBool::new(false),
            node_started: AtomicBool::new(false),
        }
    }

    /// `lp_client_create(target, origin, NULL, NULL)`.
    pub fn client_create(&self, target: &str, origin: &str) -> Result<*mut c_void, DeliveryError> {
        let (t, o) = (c(target)?, c(origin)?);
        // SAFETY: valid NUL-terminated strings; NULL transports select the defaults.
        let client = unsafe {
            (self.fns.client_create)(t.as_ptr(), o.as_ptr(), std::ptr::null(), std::ptr::null())
        };
        if client.is_null() {
            return Err(DeliveryError::Refused(format!(
                "lp_client_create({target:?}) returned NULL"
            )));
        }
        Ok(client)
    }

    /// `lp_client_destroy`.
    ///
    /// # Safety
    /// `client` came from [`LpApi::client_create`] and is not used afterwards.
    pub unsafe fn client_destroy(&self, client: *mut c_void) {
        // SAFETY: by this function's contract.
        unsafe { (self.fns.client_destroy)(client) }
    }

    /// `lp_invoke`: the result JSON, or the error (object) text.
    ///
    /// # Safety
    /// `client` is a live client.
    pub unsafe fn invoke(
        &self,
        client: *mut c_void,
        method: &str,
        args_json: &str,
        timeout_ms: i32,
    ) -> Result<String, DeliveryError> {
        let (m, a) = (c(method)?, c(args_json)?);
        let mut result: *mut c_char = std::ptr::null_mut();
        let mut error: *mut c_char = std::ptr::null_mut();
        // SAFETY: live client by contract; valid strings and out-pointers.
        let rc = unsafe {
            (self.fns.invoke)(
                client,
                m.as_ptr(),
                a.as_ptr(),
                timeout_ms,
                &mut result,
                &mut error,
            )
        };
        let result = take(self, result);
        let error = take(self, error);
        if rc != 0 {
            return Err(DeliveryError::Call {
                method: method.to_owned(),
                detail: error.unwrap_or_else(|| format!("lp_invoke returned {rc}")),
            });
        }
        Ok(result.unwrap_or_else(|| "null".into()))
    }

    /// `lp_invoke_async`; `Err` if not dispatched (then `cb` will not run).
    ///
    /// # Safety
    /// `client` is a live client; `user_data` is what `cb` expects.
    pub unsafe fn invoke_async(
        &self,
        client: *mut c_void,
        method: &str,
        args_json: &str,
        cb: ResultCb,
        user_data: *mut c_void,
    ) -> Result<(), DeliveryError> {
        let (m, a) = (c(method)?, c(args_json)?);
        // SAFETY: by this function's contract.
        let rc =
            unsafe { (self.fns.invoke_async)(client, m.as_ptr(), a.as_ptr(), 0, cb, user_data) };
        if rc != 0 {
            return Err(DeliveryError::Call {
                method: method.to_owned(),
                detail: format!("lp_invoke_async returned {rc}"),
            });
        }
        Ok(())
    }

    /// `lp_subscribe`.
    ///
    /// # Safety
    /// `client` is a live client; `user_data` is what `cb` expects, until unsubscribed.
    pub unsafe fn subscribe(
        &self,
        client: *mut c_void,
        event: &str,
        cb: EventCb,
        user_data: *mut c_void,
    ) -> Result<*mut c_void, DeliveryError> {
        let e = c(event)?;
        // SAFETY: by this function's contract.
        let sub = unsafe { (self.fns.subscribe)(client, e.as_ptr(), cb, user_data) };
        if sub.is_null() {
            return Err(DeliveryError::Refused(format!(
                "lp_subscribe({event:?}) returned NULL"
            )));
        }
        Ok(sub)
    }

    /// `lp_unsubscribe`.
    ///
    /// # Safety
    /// `sub` came from [`LpApi::subscribe`] and is not used afterwards.
    pub unsafe fn unsubscribe(&self, sub: *mut c_void) {
        // SAFETY: by this function's contract.
        unsafe { (self.fns.unsubscribe)(sub) }
    }

    /// `lp_token_save`; failures are traced.
    pub fn token_save(&self, module: &str, token: &str) {
        let (Ok(m), Ok(t)) = (CString::new(module), CString::new(token)) else {
            return;
        };
        // SAFETY: valid NUL-terminated strings.
        let rc = unsafe { (self.fns.token_save)(m.as_ptr(), t.as_ptr()) };
        if rc != 0 {
            tracing::warn!(module, rc, "lp_token_save failed");
        }
    }
}
