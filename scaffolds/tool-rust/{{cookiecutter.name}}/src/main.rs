//! Lambda entry point (`bootstrap`): speaks the Lambda Runtime API through `lambda_runtime`,
//! both on AWS and under the local engine (AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use {{ cookiecutter.name }}::handle;

/// `lambda_runtime` panics at start when these variables, which Lambda always sets, are missing.
/// A local Runtime API host may not set them, so give them neutral defaults.
fn default_lambda_env() {
    let defaults = [
        ("AWS_LAMBDA_FUNCTION_NAME", "{{ cookiecutter.logical_id }}"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ];
    for (name, value) in defaults {
        if std::env::var_os(name).is_none() {
            // Single-threaded here: no runtime has started yet.
            std::env::set_var(name, value);
        }
    }
}

fn main() -> Result<(), Error> {
    default_lambda_env();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(lambda_runtime::run(service_fn(
            |event: LambdaEvent<Value>| async move { Ok::<Value, Error>(handle(&event.payload)) },
        )))
}
