//! The host's command line.
//!
//! Owns argument parsing only:
//! - `demls-module-host [run] --module PATH [--name NAME] [--persistence DIR] [--relay SOCKET]
//!   [--credential TOKEN] [--host-services JSON] [--human]`: load and drive a module;
//! - `demls-module-host relay --socket PATH [--exit-on-stdin-eof]`: run a relay hub;
//! - `demls-module-host dogfood --module PATH --out FILE [--pause-ms N] [--workdir DIR]`:
//!   record the three-member session ([`crate::scenario`]).

use std::path::PathBuf;

/// What the process was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// Load and drive a module.
    Run {
        /// The image.
        module: PathBuf,
        /// The name it must answer to (default `demls_module`).
        name: String,
        /// The instance persistence path (default: none).
        persistence: PathBuf,
        /// The relay hub socket of the fake delivery_module.
        relay: Option<PathBuf>,
        /// The host credential (default `demls-test-host-credential`).
        credential: String,
        /// Host services to grant (a JSON array), if any.
        host_services: Option<String>,
        /// Human-friendly output.
        human: bool,
    },
    /// Run a relay hub.
    Relay {
        /// The socket path.
        socket: PathBuf,
        /// Exit when stdin closes.
        exit_on_stdin_eof: bool,
    },
    /// Record the dogfood session.
    Dogfood {
        /// The image.
        module: PathBuf,
        /// The transcript file to write.
        out: PathBuf,
        /// The pause between typed commands, in milliseconds.
        pause_ms: u64,
        /// Where the members keep their state (default: a fresh temporary directory).
        workdir: Option<PathBuf>,
    },
    /// Print the usage.
    Help,
}

/// A command line that cannot be understood.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CliError {
    /// An option without its value.
    #[error("option {0} needs a value")]
    MissingValue(String),
    /// An unknown option.
    #[error("unknown option {0}")]
    Unknown(String),
    /// A required option is absent.
    #[error("{0} is required")]
    Required(&'static str),
    /// A value is malformed.
    #[error("invalid value for {0}")]
    Invalid(&'static str),
}

/// The usage text.
pub const USAGE: &str = "\
usage:
  demls-module-host [run] --module PATH [--name demls_module] [--persistence DIR]
                    [--relay SOCKET] [--credential TOKEN] [--host-services JSON] [--human]
  demls-module-host relay --socket PATH [--exit-on-stdin-eof]
  demls-module-host dogfood --module PATH --out FILE [--pause-ms N] [--workdir DIR]
Commands on stdin, one per line: {\"call\":\"<method>\",\"args\":[...]} or `<method> <args...>`;
{\"host\":\"stop\"} or /stop unloads the module and exits.";

/// Parses the arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Invocation, CliError> {
    let (mode, rest) = match args.first().map(String::as_str) {
        Some("relay") => ("relay", &args[1..]),
        Some("dogfood") => ("dogfood", &args[1..]),
        Some("run") => ("run", &args[1..]),
        Some("-h" | "--help" | "help") => return Ok(Invocation::Help),
        _ => ("run", args),
    };
    let mut flags = std::collections::HashMap::new();
    let mut switches = std::collections::HashSet::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--human" | "--exit-on-stdin-eof" => {
                switches.insert(a.clone());
            }
            "-h" | "--help" => return Ok(Invocation::Help),
            "--module" | "--name" | "--persistence" | "--relay" | "--credential"
            | "--host-services" | "--socket" | "--out" | "--pause-ms" | "--workdir" => {
                let v = it.next().ok_or_else(|| CliError::MissingValue(a.clone()))?;
                flags.insert(a.clone(), v.clone());
            }
            other => return Err(CliError::Unknown(other.to_owned())),
        }
    }
    let path = |k: &str| flags.get(k).map(PathBuf::from);
    Ok(match mode {
        "relay" => Invocation::Relay {
            socket: path("--socket").ok_or(CliError::Required("--socket"))?,
            exit_on_stdin_eof: switches.contains("--exit-on-stdin-eof"),
        },
        "dogfood" => Invocation::Dogfood {
            module: path("--module").ok_or(CliError::Required("--module"))?,
            out: path("--out").ok_or(CliError::Required("--out"))?,
            pause_ms: match flags.get("--pause-ms") {
                Some(v) => v.parse().map_err(|_| CliError::Invalid("--pause-ms"))?,
                None => 400,
            },
            workdir: path("--workdir"),
        },
        _ => Invocation::Run {
            module: path("--module").ok_or(CliError::Required("--module"))?,
            name: flags
                .get("--name")
                .cloned()
                .unwrap_or_else(|| "demls_module".into()),
            persistence: path("--persistence").unwrap_or_default(),
            relay: path("--relay"),
            credential: flags
                .get("--credential")
                .cloned()
                .unwrap_or_else(|| "demls-test-host-credential".into()),
            host_services: flags.get("--host-services").cloned(),
            human: switches.contains("--human"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_three_modes_parse() {
        assert!(matches!(
            parse(&args("--module m.so --relay r.sock --persistence p")).unwrap(),
            Invocation::Run { name, relay: Some(_), .. } if name == "demls_module"
        ));
        assert!(matches!(
            parse(&args("relay --socket s")).unwrap(),
            Invocation::Relay {
                exit_on_stdin_eof: false,
                ..
            }
        ));
        assert!(matches!(
            parse(&args("dogfood --module m --out t --pause-ms 0")).unwrap(),
            Invocation::Dogfood { pause_ms: 0, .. }
        ));
        assert_eq!(
            parse(&args("relay")).unwrap_err(),
            CliError::Required("--socket")
        );
        assert!(parse(&args("--module m --bogus")).is_err());
    }
}
