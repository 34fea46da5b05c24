//! The LIDL contract, the dispatch table and `getMethods` say the same thing: same methods
//! and events, in the same order, with the same parameters and return types.

use std::ffi::CStr;

use demls_module::abi::{logos_module_get_methods, logos_module_string_free};
use demls_module::table::{EVENTS, METHODS};
use serde_json::Value;

/// A declaration of the LIDL file: kind, name, parameters `(name, type)`, return type.
type Decl = (String, String, Vec<(String, String)>, Option<String>);

/// The `method` and `event` declarations of a LIDL text (comments stripped).
fn declarations(lidl: &str) -> Vec<Decl> {
    let mut out = Vec::new();
    for line in lidl.lines() {
        let line = line.split(';').next().unwrap_or("").trim();
        let (kind, rest) = match line.split_once(' ') {
            Some((k @ ("method" | "event"), rest)) => (k, rest),
            _ => continue,
        };
        let open = rest.find('(').expect("a parameter list");
        let close = rest.rfind(')').expect("a closed parameter list");
        let name = rest[..open].trim().to_owned();
        let params = rest[open + 1..close]
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, t) = p.split_once(':').expect("name: type");
                (n.trim().to_owned(), t.trim().to_owned())
            })
            .collect();
        let returns = rest[close + 1..]
            .trim()
            .strip_prefix("->")
            .map(|r| r.trim().to_owned());
        out.push((kind.to_owned(), name, params, returns));
    }
    out
}

#[test]
fn the_lidl_file_and_the_dispatch_table_declare_the_same_methods_and_events() {
    let decls = declarations(demls_module::LIDL);
    let lidl_methods: Vec<_> = decls.iter().filter(|d| d.0 == "method").collect();
    let lidl_events: Vec<_> = decls.iter().filter(|d| d.0 == "event").collect();
    assert_eq!(lidl_methods.len(), METHODS.len());
    for (d, m) in lidl_methods.iter().zip(METHODS) {
        assert_eq!(d.1, m.name);
        let params: Vec<(String, String)> = m
            .params
            .iter()
            .map(|(n, t)| ((*n).to_owned(), t.lidl()))
            .collect();
        assert_eq!(d.2, params, "parameters of {}", m.name);
        assert_eq!(
            d.3.as_deref(),
            Some(m.returns.lidl().as_str()),
            "return of {}",
            m.name
        );
    }
    assert_eq!(lidl_events.len(), EVENTS.len());
    for (d, e) in lidl_events.iter().zip(EVENTS) {
        assert_eq!(d.1, e.name);
        let params: Vec<(String, String)> = e
            .params
            .iter()
            .map(|(n, t)| ((*n).to_owned(), t.lidl()))
            .collect();
        assert_eq!(d.2, params, "parameters of event {}", e.name);
    }
}

#[test]
fn get_methods_lists_the_lidl_methods_then_its_events_in_the_sdk_shape() {
    let raw = logos_module_get_methods();
    assert!(!raw.is_null());
    // SAFETY: a NUL-terminated string from the module, released below.
    let text = unsafe { CStr::from_ptr(raw) }.to_str().unwrap().to_owned();
    // SAFETY: returned by the module, released once.
    unsafe { logos_module_string_free(raw) };
    let entries: Vec<Value> = serde_json::from_str(&text).unwrap();
    let decls = declarations(demls_module::LIDL);
    assert_eq!(entries.len(), decls.len());
    for (entry, d) in entries.iter().zip(&decls) {
        assert_eq!(entry["name"], d.1.as_str());
        let n = entry
            .get("parameters")
            .map_or(0, |p| p.as_array().unwrap().len());
        assert_eq!(n, d.2.len(), "parameters of {}", d.1);
        if d.0 == "method" {
            assert_eq!(entry["isInvokable"], true);
            assert!(entry["returnType"].is_string());
            assert!(entry.get("type").is_none());
        } else {
            assert_eq!(entry["type"], "event");
        }
        let sig = entry["signature"].as_str().unwrap();
        assert!(sig.starts_with(&format!("{}(", d.1)));
    }
    let init = &entries[0];
    assert_eq!(init["signature"], "init(QVariant)");
    assert_eq!(init["returnType"], "LogosResult");
    let send = entries
        .iter()
        .find(|e| e["name"] == "send_message")
        .unwrap();
    assert_eq!(send["signature"], "send_message(QString,QString)");
    assert_eq!(
        send["parameters"],
        serde_json::json!([{"name":"convo_id","type":"QString"},{"name":"content","type":"QString"}])
    );
    let list = entries
        .iter()
        .find(|e| e["name"] == "get_messages")
        .unwrap();
    assert_eq!(list["returnType"], "QVariantList");
}

#[test]
fn metadata_json_names_the_module_its_lidl_and_its_delivery_dependency() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/metadata.json")).unwrap())
            .unwrap();
    assert_eq!(meta["name"], demls_module::NAME);
    assert_eq!(meta["version"], demls_module::VERSION);
    assert_eq!(meta["interface"], "cdylib");
    assert_eq!(meta["category"], "chat");
    assert_eq!(meta["dependencies"], serde_json::json!(["delivery_module"]));
    let lidl = meta["codegen"]["lidl"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/{lidl}")).unwrap(),
        demls_module::LIDL
    );
    let dep = meta["dependency_overrides"]["delivery_module"]["file"]
        .as_str()
        .unwrap();
    let dep_decls = declarations(&std::fs::read_to_string(format!("{dir}/{dep}")).unwrap());
    let names: Vec<&str> = dep_decls.iter().map(|d| d.1.as_str()).collect();
    assert_eq!(
        names,
        [
            "createNode",
            "start",
            "subscribe",
            "send",
            "messageReceived",
            "connectionStateChanged"
        ]
    );
}
