//! One dispatch: the method name and the JSON array of arguments in, the result JSON out.
//!
//! - `name`, `version`, `lidl` answer from the declaration (a JSON string), before `init`,
//!   context or tokens.
//! - A NULL or non-UTF-8 method name, arguments that are not a JSON array (NULL counts as
//!   `[]`), or an array of the wrong length or element types: `invalid_args`.
//! - An unknown method: `unknown_method`.
//! - A method other than `init`, `shutdown`, `health` and `status` before `init`:
//!   `dispatch_failed` (message starting `not_initialized:`).
//! - A method returning `result`: `{"success": true, "value": v, "error": null}` or
//!   `{"success": false, "value": null, "error": "<code>: <message>"}`; any other method's
//!   failure: `dispatch_failed` (message `"<code>: <message>"`).

use serde_json::{Value, json};

use crate::error::DispatchError;
use crate::table::{self, Args, Ty};

/// The module's name.
pub const NAME: &str = "demls_module";
/// The module's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The LIDL contract.
pub const LIDL: &str = include_str!("../demls_module.lidl");

fn type_ok(ty: Ty, v: &Value) -> bool {
    match ty {
        Ty::Tstr => v.is_string(),
        Ty::Bool => v.is_boolean(),
        Ty::Int => v.is_i64() || v.is_u64(),
        Ty::Record(_) => v.is_object() || v.is_string() || v.is_null(),
        Ty::List(_) => v.is_array(),
        Ty::Result => true,
    }
}

/// Runs one call. `method` and `args` are the C arguments: `None` for NULL, `Err` for text
/// that is not UTF-8.
pub fn dispatch(method: Option<Result<&str, ()>>, args: Option<Result<&str, ()>>) -> Value {
    match run(method, args) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(code = e.code(), error = %e, "dispatch refused");
            e.to_json()
        }
    }
}

fn run(
    method: Option<Result<&str, ()>>,
    args: Option<Result<&str, ()>>,
) -> Result<Value, DispatchError> {
    let method = match method {
        None => return Err(DispatchError::InvalidArgs("method is NULL".into())),
        Some(Err(())) => return Err(DispatchError::InvalidArgs("method is not UTF-8".into())),
        Some(Ok(m)) => m,
    };
    let args: Vec<Value> = match args {
        None => Vec::new(),
        Some(Err(())) => return Err(DispatchError::InvalidArgs("args are not UTF-8".into())),
        Some(Ok(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(a)) => a,
            Ok(_) => {
                return Err(DispatchError::InvalidArgs(
                    "args must be a JSON array".into(),
                ));
            }
            Err(e) => {
                return Err(DispatchError::InvalidArgs(format!(
                    "args are not JSON: {e}"
                )));
            }
        },
    };
    match method {
        "name" => return Ok(json!(NAME)),
        "version" => return Ok(json!(VERSION)),
        "lidl" => return Ok(json!(LIDL)),
        _ => {}
    }
    let m = table::method(method).ok_or_else(|| DispatchError::UnknownMethod(method.to_owned()))?;
    if args.len() != m.params.len() {
        let names: Vec<&str> = m.params.iter().map(|(n, _)| *n).collect();
        return Err(DispatchError::InvalidArgs(format!(
            "{} takes {} argument(s) ({}), got {}",
            m.name,
            m.params.len(),
            names.join(", "),
            args.len()
        )));
    }
    for (i, ((name, ty), v)) in m.params.iter().zip(&args).enumerate() {
        if !type_ok(*ty, v) {
            return Err(DispatchError::InvalidArgs(format!(
                "argument {i} ({name}) of {} must be {}",
                m.name,
                ty.lidl()
            )));
        }
    }
    if !m.before_init && !crate::module::is_initialized() {
        return Err(DispatchError::Failed(
            crate::error::ModuleError::NotInitialized.result_text(),
        ));
    }
    let _span = tracing::debug_span!("dispatch", method = m.name, caller = ?crate::caller::current_caller()).entered();
    let outcome = (m.handler)(&Args(&args));
    Ok(match (m.returns, outcome) {
        (Ty::Result, Ok(value)) => json!({"success": true, "value": value, "error": null}),
        (Ty::Result, Err(e)) => {
            json!({"success": false, "value": null, "error": e.result_text()})
        }
        (_, Ok(value)) => value,
        (_, Err(e)) => return Err(DispatchError::Failed(e.result_text())),
    })
}
