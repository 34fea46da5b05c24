//! The caller of a dispatch: a per-thread stack that `logos_module_set_call_caller` pushes
//! (non-NULL) and pops (NULL), and its reading under the header's rules.
//!
//! Rules (from `logos_module_impl.h`): `kind` is mandatory; an unknown kind, a missing
//! required field or an unparseable document is `unknown`; unknown fields are ignored; a
//! non-string `instance` of a module is dropped. A pop with nothing pushed does nothing; each
//! thread has its own stack; the value is only meaningful during a dispatch on its thread.

use std::cell::RefCell;

use serde_json::Value;

thread_local! {
    static STACK: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Who is calling, as the host's caller document says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No caller, or a document this module cannot read.
    Unknown,
    /// The host itself.
    Host,
    /// Another module (token-bound name, optional instance).
    Module {
        /// Its name.
        name: String,
        /// Its instance, if the document carried a string one.
        instance: Option<String>,
    },
    /// A derived identity.
    Derived {
        /// The parent module.
        parent: String,
        /// The leaf.
        leaf: String,
    },
    /// An operator.
    Operator {
        /// The operator's name.
        name: String,
    },
}

impl Caller {
    /// Reads a caller document.
    pub fn parse(document: &str) -> Caller {
        let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(document) else {
            return Caller::Unknown;
        };
        let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
        match doc.get("kind").and_then(Value::as_str) {
            Some("host") => Caller::Host,
            Some("module") => match field("name") {
                Some(name) => Caller::Module {
                    name,
                    instance: field("instance"),
                },
                None => Caller::Unknown,
            },
            Some("derived") => match (field("parent"), field("leaf")) {
                (Some(parent), Some(leaf)) => Caller::Derived { parent, leaf },
                _ => Caller::Unknown,
            },
            Some("operator") => match field("name") {
                Some(name) => Caller::Operator { name },
                None => Caller::Unknown,
            },
            _ => Caller::Unknown,
        }
    }
}

/// Pushes a caller document (`Some`) or pops the innermost (`None`) on this thread.
pub(crate) fn push_or_pop(document: Option<String>) {
    STACK.with(|s| {
        let mut s = s.borrow_mut();
        match document {
            Some(d) => s.push(d),
            None => {
                s.pop();
            }
        }
    });
}

/// The innermost caller of this thread's current dispatch ([`Caller::Unknown`] outside one).
pub fn current_caller() -> Caller {
    STACK.with(|s| {
        s.borrow()
            .last()
            .map_or(Caller::Unknown, |d| Caller::parse(d))
    })
}

/// How deep this thread's stack is (for tests).
pub fn depth() -> usize {
    STACK.with(|s| s.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_read_by_the_header_rules() {
        assert_eq!(Caller::parse(r#"{"kind":"host"}"#), Caller::Host);
        assert_eq!(Caller::parse(r#"{"kind":"host","name":"x"}"#), Caller::Host);
        assert_eq!(
            Caller::parse(r#"{"kind":"module","name":"chat_module","instance":7}"#),
            Caller::Module {
                name: "chat_module".into(),
                instance: None
            }
        );
        assert_eq!(
            Caller::parse(r#"{"kind":"module","name":"a","instance":"i1","extra":1}"#),
            Caller::Module {
                name: "a".into(),
                instance: Some("i1".into())
            }
        );
        assert_eq!(Caller::parse(r#"{"kind":"module"}"#), Caller::Unknown);
        assert_eq!(Caller::parse(r#"{"kind":"robot"}"#), Caller::Unknown);
        assert_eq!(Caller::parse(r#"{"name":"x"}"#), Caller::Unknown);
        assert_eq!(Caller::parse("not json"), Caller::Unknown);
        assert_eq!(Caller::parse(""), Caller::Unknown);
        assert_eq!(
            Caller::parse(r#"{"kind":"derived","parent":"w","leaf":"ui"}"#),
            Caller::Derived {
                parent: "w".into(),
                leaf: "ui".into()
            }
        );
        assert_eq!(
            Caller::parse(r#"{"kind":"operator","name":"ops"}"#),
            Caller::Operator { name: "ops".into() }
        );
    }
}
