//! Tokens the host delivers: outbound ones (presented when this module calls another, e.g.
//! `delivery_module`; forwarded to the protocol library with `lp_token_save` as soon as it is
//! resolved), inbound ones (who may call this module) and the granted host services.

use std::sync::Mutex;

use crate::delivery::lp::LpApi;

#[derive(Default)]
struct Tokens {
    outbound: Vec<(String, String)>,
    inbound: Vec<(String, String)>,
    services: Vec<String>,
    forward_to: Option<&'static LpApi>,
}

static TOKENS: Mutex<Tokens> = Mutex::new(Tokens {
    outbound: Vec::new(),
    inbound: Vec::new(),
    services: Vec::new(),
    forward_to: None,
});

fn lock() -> std::sync::MutexGuard<'static, Tokens> {
    TOKENS.lock().unwrap_or_else(|p| p.into_inner())
}

fn upsert(list: &mut Vec<(String, String)>, name: &str, token: &str) {
    match list.iter_mut().find(|(n, _)| n == name) {
        Some(entry) => entry.1 = token.to_owned(),
        None => list.push((name.to_owned(), token.to_owned())),
    }
}

/// Stores the token this module presents to `module` (and forwards it if the protocol
/// library is resolved).
pub(crate) fn accept_outbound(module: &str, token: &str) {
    let mut t = lock();
    upsert(&mut t.outbound, module, token);
    if let Some(api) = t.forward_to {
        api.token_save(module, token);
    }
}

/// Records that `caller` may present `token` when calling this module.
pub(crate) fn accept_inbound(caller: &str, token: &str) {
    upsert(&mut lock().inbound, caller, token);
}

/// Forwards every stored outbound token to `api`, and every later one as it arrives.
pub(crate) fn forward_to(api: &'static LpApi) {
    let mut t = lock();
    for (module, token) in &t.outbound {
        api.token_save(module, token);
    }
    t.forward_to = Some(api);
}

/// The names of the modules this module holds an outbound token for.
pub fn outbound_modules() -> Vec<String> {
    lock().outbound.iter().map(|(n, _)| n.clone()).collect()
}

/// The callers holding an inbound token.
pub fn inbound_callers() -> Vec<String> {
    lock().inbound.iter().map(|(n, _)| n.clone()).collect()
}

/// The closed set of host services `logos_module_grant_host_services` accepts.
pub const HOST_SERVICES: &[&str] = &["token_registry", "token_delivery"];

/// Replaces the granted host services with `services_json` (NULL/empty clears). `false` (and
/// nothing changed) for a malformed list or an unknown service.
pub(crate) fn grant(services_json: Option<&str>) -> bool {
    let services = match services_json.map(str::trim) {
        None | Some("") => Vec::new(),
        Some(text) => match serde_json::from_str::<Vec<String>>(text) {
            Ok(list) if list.iter().all(|s| HOST_SERVICES.contains(&s.as_str())) => list,
            _ => return false,
        },
    };
    lock().services = services;
    true
}

/// The granted host services.
pub fn granted_services() -> Vec<String> {
    lock().services.clone()
}
