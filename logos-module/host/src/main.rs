//! `demls-module-host`: loads a Logos Core module image and drives it (see the crate docs and
//! `logos-module/README.md`), or runs the relay hub, or records the dogfood session.

use demls_module_host::cli::{self, Invocation};
use demls_module_host::delivery::delivery;
use demls_module_host::loader::LoadOptions;
use demls_module_host::{driver, exports, relay, scenario};

fn main() {
    // Keeps every `lp_*` function in the executable, where `-rdynamic` exports it.
    std::hint::black_box(&exports::EXPORTED);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match cli::parse(&args) {
        Ok(Invocation::Help) => {
            eprintln!("{}", cli::USAGE);
            0
        }
        Ok(Invocation::Run {
            module,
            name,
            persistence,
            relay,
            credential,
            host_services,
            human,
        }) => {
            delivery().set_relay(relay);
            let options = LoadOptions {
                path: module,
                name,
                credential,
                host_services,
                persistence,
            };
            driver::run(&options, human)
        }
        Ok(Invocation::Relay {
            socket,
            exit_on_stdin_eof,
        }) => match relay::run(&socket, exit_on_stdin_eof) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("demls-module-host relay: {e}");
                1
            }
        },
        Ok(Invocation::Dogfood {
            module,
            out,
            pause_ms,
            workdir,
        }) => {
            let Ok(host) = std::env::current_exe() else {
                eprintln!("demls-module-host dogfood: cannot find its own executable");
                std::process::exit(1);
            };
            match scenario::record(&host, &module, &out, pause_ms, workdir.as_deref()) {
                Ok(()) => {
                    eprintln!("transcript written to {}", out.display());
                    0
                }
                Err(e) => {
                    eprintln!("demls-module-host dogfood: {e}");
                    1
                }
            }
        }
        Err(e) => {
            eprintln!("demls-module-host: {e}\n{}", cli::USAGE);
            64
        }
    };
    std::process::exit(code);
}
