//! The ABI's answers that need no running node: identity methods before any context, every
//! bad-argument shape, calls before `init`, `init` without a persistence path, tokens, the
//! caller stack, the unload handshake when idle. (This test binary never starts a node.)

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use demls_module::abi::*;
use serde_json::{Value, json};

fn call_raw(method: *const c_char, args: *const c_char) -> Value {
    // SAFETY: NULL or valid C strings.
    let out = unsafe { logos_module_dispatch(method, args) };
    assert!(!out.is_null(), "dispatch never answers NULL");
    // SAFETY: a string from the module, released once.
    let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned();
    unsafe { logos_module_string_free(out) };
    serde_json::from_str(&text).unwrap()
}

fn call(method: &str, args: &str) -> Value {
    let (m, a) = (CString::new(method).unwrap(), CString::new(args).unwrap());
    call_raw(m.as_ptr(), a.as_ptr())
}

fn assert_error(v: &Value, code: &str) {
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["origin"], "demls_module", "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert_eq!(v.as_object().unwrap().len(), 3, "{v}");
}

#[test]
fn name_version_and_lidl_answer_before_any_context() {
    if !in_own_process!(name_version_and_lidl_answer_before_any_context) {
        return;
    }
    assert_eq!(call("name", "[]"), json!("demls_module"));
    assert_eq!(call("version", "[]"), json!("0.1.0"));
    let lidl = call("lidl", "[]");
    assert!(lidl.as_str().unwrap().contains("module demls_module {"));
    let name = CString::new("name").unwrap();
    assert_eq!(call_raw(name.as_ptr(), ptr::null()), json!("demls_module"));
}

#[test]
fn every_bad_argument_shape_answers_its_error_object() {
    if !in_own_process!(every_bad_argument_shape_answers_its_error_object) {
        return;
    }
    assert_error(&call("no_such_method", "[]"), "unknown_method");
    assert_error(&call("send_message", "[\"ab\"]"), "invalid_args");
    assert_error(
        &call("send_message", "[\"ab\",\"x\",\"y\"]"),
        "invalid_args",
    );
    assert_error(&call("send_message", "[\"ab\", 5]"), "invalid_args");
    assert_error(&call("health", "[1]"), "invalid_args");
    assert_error(&call("init", "[true]"), "invalid_args");
    assert_error(
        &call("send_message", "{\"convo_id\":\"ab\"}"),
        "invalid_args",
    );
    assert_error(&call("send_message", "[\"ab\","), "invalid_args");
    assert_error(&call("status", "null"), "invalid_args");
    let args = CString::new("[]").unwrap();
    assert_error(&call_raw(ptr::null(), args.as_ptr()), "invalid_args");
    let bad = [0xffu8, 0xfe, 0];
    assert_error(
        &call_raw(bad.as_ptr().cast(), args.as_ptr()),
        "invalid_args",
    );
    let m = CString::new("health").unwrap();
    assert_error(&call_raw(m.as_ptr(), bad.as_ptr().cast()), "invalid_args");
    // NULL args mean [].
    assert_eq!(call_raw(m.as_ptr(), ptr::null()), json!(true));
}

#[test]
fn calls_before_init_answer_dispatch_failed_except_the_lifecycle_ones() {
    if !in_own_process!(calls_before_init_answer_dispatch_failed_except_the_lifecycle_ones) {
        return;
    }
    assert_eq!(call("health", "[]"), json!(true));
    let status = call("status", "[]");
    assert_eq!(status["initialized"], false);
    assert_eq!(status["address"], "");
    for (method, args) in [
        ("get_address", "[]"),
        ("list_conversations", "[]"),
        ("get_messages", "[\"ab\"]"),
        ("send_message", "[\"ab\",\"hi\"]"),
        ("create_group_conversation", "[\"n\",\"d\"]"),
    ] {
        let v = call(method, args);
        assert_error(&v, "dispatch_failed");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .starts_with("not_initialized:"),
            "{v}"
        );
    }
    assert_eq!(
        call("shutdown", "[]"),
        json!({"success": true, "value": null, "error": null})
    );
}

#[test]
fn init_without_a_persistence_path_fails_in_its_result() {
    if !in_own_process!(init_without_a_persistence_path_fails_in_its_result) {
        return;
    }
    // SAFETY: NULL arguments are allowed.
    unsafe { logos_module_set_context(ptr::null(), ptr::null(), ptr::null()) };
    let v = call("init", "[{\"transport\":\"memory\"}]");
    assert_eq!(v["success"], false, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("no_persistence_path:"),
        "{v}"
    );
    let v = call("init", "[\"{\\\"transprot\\\":1}\"]");
    assert!(
        v["error"].as_str().unwrap().starts_with("invalid_config:"),
        "{v}"
    );
}

#[test]
fn tokens_and_host_services_are_accepted_or_refused() {
    if !in_own_process!(tokens_and_host_services_are_accepted_or_refused) {
        return;
    }
    let (core, tok) = (CString::new("core").unwrap(), CString::new("t0k").unwrap());
    // SAFETY: valid or NULL C strings.
    unsafe {
        assert_eq!(logos_module_accept_token(core.as_ptr(), tok.as_ptr()), 0);
        assert_eq!(logos_module_accept_token(ptr::null(), tok.as_ptr()), -1);
        assert_eq!(
            logos_module_accept_inbound_token(core.as_ptr(), tok.as_ptr()),
            0
        );
        assert_eq!(
            logos_module_accept_inbound_token(core.as_ptr(), ptr::null()),
            -1
        );
    }
    assert!(demls_module::tokens::outbound_modules().contains(&"core".to_owned()));
    assert!(demls_module::tokens::inbound_callers().contains(&"core".to_owned()));
    let ok = CString::new("[\"token_registry\"]").unwrap();
    let bad = CString::new("[\"root\"]").unwrap();
    // SAFETY: valid or NULL C strings.
    unsafe {
        assert_eq!(logos_module_grant_host_services(ok.as_ptr()), 0);
        assert_eq!(logos_module_grant_host_services(bad.as_ptr()), -1);
        assert_eq!(demls_module::tokens::granted_services(), ["token_registry"]);
        assert_eq!(logos_module_grant_host_services(ptr::null()), 0);
    }
    assert!(demls_module::tokens::granted_services().is_empty());
}

#[test]
fn the_caller_stack_is_per_thread_and_pops_the_innermost() {
    if !in_own_process!(the_caller_stack_is_per_thread_and_pops_the_innermost) {
        return;
    }
    use demls_module::{Caller, current_caller};
    let host = CString::new(r#"{"kind":"host"}"#).unwrap();
    let module = CString::new(r#"{"kind":"module","name":"chat_module"}"#).unwrap();
    // SAFETY: valid or NULL C strings.
    unsafe {
        logos_module_set_call_caller(ptr::null()); // a pop of nothing does nothing
        assert_eq!(current_caller(), Caller::Unknown);
        logos_module_set_call_caller(host.as_ptr());
        logos_module_set_call_caller(module.as_ptr());
        assert_eq!(
            current_caller(),
            Caller::Module {
                name: "chat_module".into(),
                instance: None
            }
        );
        std::thread::spawn(|| assert_eq!(current_caller(), Caller::Unknown))
            .join()
            .unwrap();
        logos_module_set_call_caller(ptr::null());
        assert_eq!(current_caller(), Caller::Host);
        logos_module_set_call_caller(ptr::null());
        assert_eq!(current_caller(), Caller::Unknown);
        assert_eq!(demls_module::caller::depth(), 0);
    }
}

#[test]
fn an_idle_module_is_quiescent_and_reports_its_protocol_version() {
    if !in_own_process!(an_idle_module_is_quiescent_and_reports_its_protocol_version) {
        return;
    }
    assert_eq!(logos_module_about_to_unload(), 0);
    // SAFETY: a static string.
    let v = unsafe { CStr::from_ptr(logos_module_get_protocol_version()) };
    assert_eq!(v.to_str().unwrap(), demls_module::PROTOCOL_VERSION);
    // SAFETY: NULL is allowed.
    unsafe { logos_module_string_free(ptr::null_mut()) };
}
