//! The `chat` command lines, each turned into one call of the API's JSON dispatcher
//! ([`demls::api::call`]): the CLI has no operation of its own, so what it prints is the API's
//! canonical JSON.

use demls::api::encode_bytes;
use demls::{Invitation, MemberId};
use serde_json::{Value, json};

/// The commands `chat` reads, one per line (also printed for `help`).
pub const HELP: &str = "\
create <group>              join <group>               join <invitation>
invite <group>              send <group> <text...>     history <group> [n]
remove <group> <member>     leave <group>              vote <group> <decision> yes|no
status                      group <group>              groups
call <method> [json-args]   help                       quit";

/// What a line asks for.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// Nothing (an empty line).
    Empty,
    /// Stop the node and exit.
    Quit,
    /// Print the commands.
    Help,
    /// One dispatcher call.
    Call(String, Value),
}

fn group(name: &str) -> Value {
    Value::String(encode_bytes(name.as_bytes()))
}

/// A member id as printed by `ready` and events (base64), or as hex with a `0x` prefix.
fn member(text: &str) -> Result<Value, String> {
    let bytes = match text.strip_prefix("0x") {
        Some(hex) => hex::decode(hex).ok(),
        None => demls::api::decode_bytes(text),
    };
    bytes
        .and_then(|b| MemberId::from_slice(&b))
        .map(|m| Value::String(encode_bytes(m.as_bytes())))
        .ok_or_else(|| format!("not a member id: {text}"))
}

/// Parses one line (`<group>` is the group's name as text).
pub fn parse(line: &str) -> Result<Line, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let call = |m: &str, args: Value| Ok(Line::Call(m.to_owned(), args));
    match words.as_slice() {
        [] => Ok(Line::Empty),
        ["quit"] => Ok(Line::Quit),
        ["help"] => Ok(Line::Help),
        ["create", g] => call("create_group", json!({ "group": group(g) })),
        ["join", i] if i.starts_with("demls-invite:") => {
            i.parse::<Invitation>().map_err(|e| e.to_string())?;
            call("join_by_invitation", json!({ "invitation": i }))
        }
        ["join", g] => call("join_group", json!({ "group": group(g) })),
        ["invite", g] => call("invitation", json!({ "group": group(g) })),
        ["send", g, text @ ..] if !text.is_empty() => call(
            "send",
            json!({ "group": group(g), "payload": encode_bytes(text.join(" ").as_bytes()) }),
        ),
        ["history", g] => call("history", json!({ "group": group(g) })),
        ["history", g, n] => {
            let n: usize = n.parse().map_err(|_| format!("not a count: {n}"))?;
            call("history", json!({ "group": group(g), "limit": n }))
        }
        ["remove", g, m] => call(
            "propose_remove",
            json!({ "group": group(g), "member": member(m)? }),
        ),
        ["leave", g] => call("leave", json!({ "group": group(g) })),
        ["vote", g, d, yes @ ("yes" | "no")] => call(
            "vote",
            json!({ "group": group(g), "decision": d, "approve": *yes == "yes" }),
        ),
        ["status"] => call("status", Value::Null),
        ["status" | "group", g] => call("group", json!({ "group": group(g) })),
        ["groups"] => call("groups", Value::Null),
        ["call", method] => call(method, Value::Null),
        ["call", method, ..] => {
            let rest = line
                .trim_start()
                .strip_prefix("call")
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix(method))
                .unwrap_or("")
                .trim();
            let args = serde_json::from_str(rest).map_err(|e| format!("arguments: {e}"))?;
            call(method, args)
        }
        _ => Err(format!("unknown command (try `help`): {line}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_becomes_one_dispatcher_call_with_base64_bytes() {
        assert_eq!(
            parse("create demo").unwrap(),
            Line::Call("create_group".into(), json!({"group": "ZGVtbw=="}))
        );
        assert_eq!(
            parse("send demo hello  world").unwrap(),
            Line::Call(
                "send".into(),
                json!({"group": "ZGVtbw==", "payload": encode_bytes(b"hello world")})
            )
        );
        let hex = format!("0x{}", "ab".repeat(20));
        let Line::Call(m, args) = parse(&format!("remove demo {hex}")).unwrap() else {
            panic!()
        };
        assert_eq!(m, "propose_remove");
        assert_eq!(args["member"], encode_bytes(&[0xab; 20]));
        assert_eq!(
            parse(r#"call history {"group": "ZGVtbw==", "limit": 5}"#).unwrap(),
            Line::Call("history".into(), json!({"group": "ZGVtbw==", "limit": 5}))
        );
        assert_eq!(parse("").unwrap(), Line::Empty);
        assert_eq!(parse("quit").unwrap(), Line::Quit);
    }

    #[test]
    fn bad_lines_are_refused_with_a_reason() {
        assert!(parse("frobnicate").unwrap_err().contains("unknown command"));
        assert!(parse("remove demo 0x12").unwrap_err().contains("member id"));
        assert!(parse("join demls-invite:1:zz").is_err());
        assert!(
            parse("call send {not json")
                .unwrap_err()
                .contains("arguments")
        );
        assert!(parse("history demo many").is_err());
    }
}
