//! Lambda entry point (`bootstrap`): speaks the Lambda Runtime API through `lambda_runtime`,
//! both on AWS and under the local engine (AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT).

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls;
use clustering::{handle, FetchError, MAX_OBJECT_BYTES};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::Value;

async fn s3_client() -> aws_sdk_s3::Client {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    // aws-config honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 and AWS_REGION.
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .load()
        .await;
    let mut conf = aws_sdk_s3::config::Builder::from(&shared);
    // Local S3 emulators (moto, MinIO) need path-style addressing.
    let custom_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var(v).map(|s| !s.is_empty()).unwrap_or(false));
    if custom_endpoint {
        conf = conf.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(conf.build())
}

async fn fetch(
    client: &aws_sdk_s3::Client,
    bucket: String,
    key: String,
) -> Result<Vec<u8>, FetchError> {
    let out = client
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| {
            let service = e.into_service_error();
            match &service {
                GetObjectError::NoSuchKey(_) => FetchError::NotFound,
                other if matches!(other.code(), Some("NoSuchBucket") | Some("NotFound")) => {
                    FetchError::NotFound
                }
                other => FetchError::Other(DisplayErrorContext(other).to_string()),
            }
        })?;
    if let Some(n) = out.content_length() {
        if n > MAX_OBJECT_BYTES {
            return Err(FetchError::TooLarge(n));
        }
    }
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| FetchError::Other(format!("reading the body failed: {e}")))?;
    Ok(body.into_bytes().to_vec())
}

/// Stores a large result (`large_results::bound`); `Err` is the S3 error code, e.g. NoSuchBucket.
async fn put(
    client: &aws_sdk_s3::Client,
    bucket: String,
    key: String,
    body: String,
) -> Result<(), String> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("text/plain; charset=utf-8")
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            e.code()
                .map_or_else(|| DisplayErrorContext(&e).to_string(), str::to_string)
        })
}

/// `lambda_runtime` panics at start when these variables, which Lambda always sets, are missing.
/// A local Runtime API host may not set them, so give them neutral defaults.
fn default_lambda_env() {
    let defaults = [
        ("AWS_LAMBDA_FUNCTION_NAME", "ClusteringToolFunction"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
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
        .block_on(run())
}

async fn run() -> Result<(), Error> {
    let client = s3_client().await;
    let client = &client;
    // Where results over the inline limit go (the template sets it).
    let artifact_bucket = std::env::var("ARTIFACT_BUCKET").ok();
    let artifact_bucket = artifact_bucket.as_deref();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Not a tool call: the function fails with the contract's errorType and the reason.
        let fetch = |b, k| fetch(client, b, k);
        let put = |b, k, body| put(client, b, k, body);
        handle(&event.payload, fetch, artifact_bucket, put)
            .await
            .map_err(|malformed| Diagnostic {
                error_type: "MalformedToolEvent".into(),
                error_message: malformed.0,
            })
    }))
    .await
}
