//! The one table of the module's contract: every LIDL method with its parameters, return
//! type and handler, and every LIDL event with its parameters. Dispatch
//! ([`crate::dispatch`]) routes and checks arguments by it, `logos_module_get_methods`
//! answers its JSON, and a test checks it against `demls_module.lidl` (no drift).

use serde_json::{Value, json};

use crate::error::ModuleError;
use crate::handlers;

/// A LIDL type as far as this contract uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `tstr`.
    Tstr,
    /// `bool`.
    Bool,
    /// `int`.
    Int,
    /// `result`: `{"success", "value", "error"}`.
    Result,
    /// A record type of the contract (its name).
    Record(&'static str),
    /// A list of a record type (`[Name]`).
    List(&'static str),
}

impl Ty {
    /// The LIDL spelling.
    pub fn lidl(self) -> String {
        match self {
            Ty::Tstr => "tstr".into(),
            Ty::Bool => "bool".into(),
            Ty::Int => "int".into(),
            Ty::Result => "result".into(),
            Ty::Record(name) => name.into(),
            Ty::List(name) => format!("[{name}]"),
        }
    }

    /// The Qt-style type name `getMethods` reports (as the SDK generators do).
    pub fn qt(self) -> &'static str {
        match self {
            Ty::Tstr => "QString",
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Result => "LogosResult",
            Ty::Record(_) => "QVariant",
            Ty::List(_) => "QVariantList",
        }
    }
}

/// The positional arguments of a call, already checked against the method's parameters.
pub struct Args<'a>(pub(crate) &'a [Value]);

impl Args<'_> {
    /// A `tstr` argument.
    pub fn text(&self, i: usize) -> &str {
        self.0.get(i).and_then(Value::as_str).unwrap_or_default()
    }
    /// Any argument.
    pub fn value(&self, i: usize) -> &Value {
        self.0.get(i).unwrap_or(&Value::Null)
    }
}

/// What a handler answers: the method's value, or why it failed.
pub type Handler = fn(&Args<'_>) -> Result<Value, ModuleError>;

/// One method of the contract.
pub struct Method {
    /// Its name.
    pub name: &'static str,
    /// Its parameters, in order.
    pub params: &'static [(&'static str, Ty)],
    /// Its return type.
    pub returns: Ty,
    /// Whether it may run before `init`.
    pub before_init: bool,
    /// What runs it.
    pub handler: Handler,
}

/// One event of the contract.
pub struct Event {
    /// Its name.
    pub name: &'static str,
    /// Its parameters, in order (the event's JSON array).
    pub params: &'static [(&'static str, Ty)],
}

const fn m(
    name: &'static str,
    params: &'static [(&'static str, Ty)],
    returns: Ty,
    handler: Handler,
) -> Method {
    Method {
        name,
        params,
        returns,
        before_init: false,
        handler,
    }
}

use Ty::{Bool, Int, List, Record, Tstr};

/// Every method of `demls_module.lidl`, in its order.
pub const METHODS: &[Method] = &[
    Method {
        before_init: true,
        ..m(
            "init",
            &[("config", Record("DemlsConfig"))],
            Ty::Result,
            handlers::init,
        )
    },
    Method {
        before_init: true,
        ..m("shutdown", &[], Ty::Result, handlers::shutdown)
    },
    Method {
        before_init: true,
        ..m("health", &[], Bool, handlers::health)
    },
    Method {
        before_init: true,
        ..m("status", &[], Record("Status"), handlers::status)
    },
    m("get_address", &[], Tstr, handlers::get_address),
    m(
        "create_group_conversation",
        &[("name", Tstr), ("desc", Tstr)],
        Ty::Result,
        handlers::create_group_conversation,
    ),
    m(
        "add_group_member",
        &[("convo_id", Tstr), ("peer_address", Tstr)],
        Ty::Result,
        handlers::add_group_member,
    ),
    m(
        "accept_invitation",
        &[("convo_id", Tstr)],
        Ty::Result,
        handlers::accept_invitation,
    ),
    m(
        "get_invitation",
        &[("convo_id", Tstr)],
        Tstr,
        handlers::get_invitation,
    ),
    m(
        "join_group_conversation",
        &[("invitation", Tstr)],
        Ty::Result,
        handlers::join_group_conversation,
    ),
    m(
        "remove_group_member",
        &[("convo_id", Tstr), ("member_address", Tstr)],
        Ty::Result,
        handlers::remove_group_member,
    ),
    m(
        "leave_group_conversation",
        &[("convo_id", Tstr)],
        Ty::Result,
        handlers::leave_group_conversation,
    ),
    m(
        "list_conversations",
        &[],
        List("Conversation"),
        handlers::list_conversations,
    ),
    m(
        "list_group_members",
        &[("convo_id", Tstr)],
        List("GroupMember"),
        handlers::list_group_members,
    ),
    m(
        "send_message",
        &[("convo_id", Tstr), ("content", Tstr)],
        Ty::Result,
        handlers::send_message,
    ),
    m(
        "get_messages",
        &[("convo_id", Tstr)],
        List("Message"),
        handlers::get_messages,
    ),
];

/// Every event of `demls_module.lidl`, in its order.
pub const EVENTS: &[Event] = &[
    Event {
        name: "message_received",
        params: &[
            ("convo_id", Tstr),
            ("content", Tstr),
            ("timestamp_ms", Int),
            ("sender", Tstr),
        ],
    },
    Event {
        name: "message_sent",
        params: &[("convo_id", Tstr), ("content", Tstr), ("timestamp_ms", Int)],
    },
    Event {
        name: "conversation_created",
        params: &[
            ("convo_id", Tstr),
            ("is_outgoing", Bool),
            ("peer_label", Tstr),
            ("kind", Tstr),
            ("name", Tstr),
            ("desc", Tstr),
        ],
    },
    Event {
        name: "invitation_received",
        params: &[
            ("convo_id", Tstr),
            ("inviter", Tstr),
            ("name", Tstr),
            ("desc", Tstr),
        ],
    },
    Event {
        name: "members_changed",
        params: &[("convo_id", Tstr)],
    },
    Event {
        name: "membership_decision",
        params: &[
            ("convo_id", Tstr),
            ("change", Tstr),
            ("member", Tstr),
            ("state", Tstr),
        ],
    },
    Event {
        name: "conversation_left",
        params: &[("convo_id", Tstr), ("reason", Tstr)],
    },
    Event {
        name: "delivery_state_changed",
        params: &[("delivery_state", Tstr), ("detail", Tstr)],
    },
];

/// The identity methods every module answers from its declaration, before construction,
/// context or tokens (not LIDL methods, not in `getMethods`).
pub const IDENTITY_METHODS: &[&str] = &["name", "version", "lidl"];

/// The method of that name.
pub fn method(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

fn signature(name: &str, params: &[(&str, Ty)]) -> String {
    let types: Vec<&str> = params.iter().map(|(_, t)| t.qt()).collect();
    format!("{name}({})", types.join(","))
}

fn parameters(params: &[(&str, Ty)]) -> Value {
    Value::Array(
        params
            .iter()
            .map(|(n, t)| json!({"name": n, "type": t.qt()}))
            .collect(),
    )
}

/// The `getMethods` JSON: one entry per method
/// (`{"name","signature","returnType","isInvokable":true,"parameters"?}`) then one per event
/// (`{"type":"event","name","signature","parameters"?}`); `parameters` only when there are
/// some, as the SDK generators emit it.
pub fn methods_json() -> Value {
    let mut entries = Vec::new();
    for m in METHODS {
        let mut e = json!({
            "name": m.name,
            "signature": signature(m.name, m.params),
            "returnType": m.returns.qt(),
            "isInvokable": true,
        });
        if !m.params.is_empty() {
            e["parameters"] = parameters(m.params);
        }
        entries.push(e);
    }
    for ev in EVENTS {
        let mut e = json!({
            "type": "event",
            "name": ev.name,
            "signature": signature(ev.name, ev.params),
        });
        if !ev.params.is_empty() {
            e["parameters"] = parameters(ev.params);
        }
        entries.push(e);
    }
    Value::Array(entries)
}

/// The event of that name (for emitters' checks).
pub fn event(name: &str) -> Option<&'static Event> {
    EVENTS.iter().find(|e| e.name == name)
}
