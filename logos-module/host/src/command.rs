//! One line typed to the host: a JSON command, or its human-friendly form.
//!
//! Owns the input syntax only; running a command is [`crate::driver`]'s.
//!
//! JSON form (one object per line):
//! - `{"call": "<method>", "args": [ … ], "id": <any>?, "caller": {…}?}`: one `dispatch`;
//!   `args` defaults to `[]`, `caller` to `{"kind":"host"}`, `id` is echoed in the answer;
//! - `{"host": "stop"}`, `{"host": "methods"}`, `{"host": "ping"}`: host commands.
//!
//! Human form: `<method> <arg> <arg> …`, each argument a JSON value (`"two words"`, `3`,
//! `true`, `{"a":1}`) or a bare word taken as a string; `/stop`, `/methods`, `/ping`.

use serde_json::Value;

/// A parsed input line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Dispatch `method` with the positional `args`.
    Call {
        /// The method name.
        method: String,
        /// The positional arguments.
        args: Vec<Value>,
        /// Echoed in the result line.
        id: Option<Value>,
        /// The caller JSON object pushed around the dispatch.
        caller: Option<Value>,
    },
    /// Stop the module (unload handshake) and exit.
    Stop,
    /// Print the module's `get_methods`.
    Methods,
    /// Answer `pong` (a liveness check that does not reach the module).
    Ping,
}

/// Why a line is not a command.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CommandError {
    /// An empty line.
    #[error("empty line")]
    Empty,
    /// The JSON form is malformed.
    #[error("malformed command: {0}")]
    Malformed(String),
    /// An unknown host command.
    #[error("unknown host command '{0}' (known: stop, methods, ping)")]
    UnknownHostCommand(String),
    /// An unterminated quoted argument.
    #[error("unterminated quoted argument")]
    Unterminated,
}

/// Parses one input line.
pub fn parse(line: &str) -> Result<Command, CommandError> {
    let line = line.trim();
    if line.is_empty() {
        return Err(CommandError::Empty);
    }
    if line.starts_with('{') {
        return parse_json(line);
    }
    if let Some(word) = line.strip_prefix('/') {
        return host_command(word.trim());
    }
    let mut words = split(line)?.into_iter();
    let method = words.next().ok_or(CommandError::Empty)?;
    let args = words
        .map(|w| serde_json::from_str(&w).unwrap_or(Value::String(w)))
        .collect();
    Ok(Command::Call {
        method,
        args,
        id: None,
        caller: None,
    })
}

fn host_command(word: &str) -> Result<Command, CommandError> {
    match word {
        "stop" => Ok(Command::Stop),
        "methods" => Ok(Command::Methods),
        "ping" => Ok(Command::Ping),
        other => Err(CommandError::UnknownHostCommand(other.to_owned())),
    }
}

fn parse_json(line: &str) -> Result<Command, CommandError> {
    let v: Value =
        serde_json::from_str(line).map_err(|e| CommandError::Malformed(e.to_string()))?;
    if let Some(host) = v.get("host") {
        let host = host
            .as_str()
            .ok_or_else(|| CommandError::Malformed("\"host\" must be a string".into()))?;
        return host_command(host);
    }
    let method = v
        .get("call")
        .and_then(Value::as_str)
        .ok_or_else(|| CommandError::Malformed("expected \"call\" or \"host\"".into()))?;
    let args = match v.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(CommandError::Malformed("\"args\" must be an array".into())),
    };
    Ok(Command::Call {
        method: method.to_owned(),
        args,
        id: v.get("id").cloned(),
        caller: v.get("caller").cloned(),
    })
}

/// Splits on whitespace, keeping JSON strings (`"…"` with escapes), objects and arrays whole.
fn split(line: &str) -> Result<Vec<String>, CommandError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for ch in line.chars() {
        if in_str {
            cur.push(ch);
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_str = false;
            }
            continue;
        }
        match ch {
            '"' => {
                in_str = true;
                cur.push(ch);
            }
            '{' | '[' => {
                depth += 1;
                cur.push(ch);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                cur.push(ch);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if in_str {
        return Err(CommandError::Unterminated);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// The human form of a call, as [`parse`] reads it back (used by transcripts).
pub fn human_form(method: &str, args: &[Value]) -> String {
    let mut s = method.to_owned();
    for a in args {
        s.push(' ');
        s.push_str(&a.to_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_human_form_reads_json_values_and_bare_words() {
        let c = parse(r#"send_message ab12 "hello there" 3 {"a": [1, 2]}"#).unwrap();
        assert_eq!(
            c,
            Command::Call {
                method: "send_message".into(),
                args: vec![
                    json!("ab12"),
                    json!("hello there"),
                    json!(3),
                    json!({"a": [1, 2]})
                ],
                id: None,
                caller: None,
            }
        );
        assert_eq!(parse("/stop").unwrap(), Command::Stop);
        assert!(parse(r#"x "open"#).is_err());
    }

    #[test]
    fn the_json_form_reads_calls_and_host_commands() {
        let c = parse(r#"{"call":"health","id":7}"#).unwrap();
        assert!(
            matches!(c, Command::Call { ref method, ref args, id: Some(_), .. }
            if method == "health" && args.is_empty())
        );
        assert_eq!(parse(r#"{"host":"methods"}"#).unwrap(), Command::Methods);
        assert!(parse(r#"{"call":"x","args":3}"#).is_err());
        assert!(parse(r#"{"host":"dance"}"#).is_err());
        let h = human_form("m", &[json!("a b"), json!(1)]);
        assert_eq!(
            parse(&h).unwrap(),
            parse(r#"{"call":"m","args":["a b",1]}"#).unwrap()
        );
    }
}
