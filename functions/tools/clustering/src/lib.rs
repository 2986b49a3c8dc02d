//! sfn-agents tool `cluster_time_series`.
//!
//! Event: `{"name": "cluster_time_series", "id": "toolu_…", "input": {"bucket": "…", "key": "…",
//! "min_cluster_size"?: int, "features"?: "znorm" | "raw"}}`.
//! Result: `{"type": "tool_result", "tool_use_id", "name", "content" (JSON text), "is_error"}`,
//! with content over 16,384 characters stored in the artifact bucket (`large_results`).
//!
//! Every expected failure (bad input, missing object, malformed data) is an error tool_result.
//! An event that is not a tool call cannot be answered with one: `handle` returns
//! `Err(MalformedToolEvent)`, which the function reports as that errorType (docs/contract.md).

pub mod cluster;
pub mod large_results;

use cluster::Features;
use serde_json::{json, Value};
use std::future::Future;

pub const TOOL_NAME: &str = "cluster_time_series";
/// Objects larger than this are refused before download.
pub const MAX_OBJECT_BYTES: i64 = 64 * 1024 * 1024;

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub tool_use_id: String,
    pub bucket: String,
    pub key: String,
    pub min_cluster_size: Option<u64>,
    pub features: Features,
}

/// The contract's error for an event that is not a tool call, with what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct MalformedToolEvent(pub String);

impl std::fmt::Display for MalformedToolEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MalformedToolEvent {}

/// `Ok` when `event` is a tool call: an object with non-empty string `id` and `name`, and an
/// `input` object if it has one.
pub fn check_event(event: &Value) -> Result<(), MalformedToolEvent> {
    let malformed = |reason: String| Err(MalformedToolEvent(reason));
    let Some(fields) = event.as_object() else {
        return malformed("tool event must be a JSON object with name, id and input".into());
    };
    let missing: Vec<&str> = ["id", "name"]
        .into_iter()
        .filter(|key| !matches!(fields.get(*key), Some(Value::String(s)) if !s.is_empty()))
        .collect();
    if !missing.is_empty() {
        return malformed(format!(
            "tool event lacks string field(s): {}",
            missing.join(", ")
        ));
    }
    match fields.get("input") {
        None | Some(Value::Object(_)) => Ok(()),
        Some(_) => malformed("tool event field 'input' must be a JSON object".into()),
    }
}

/// Why fetching the object failed.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchError {
    NotFound,
    TooLarge(i64),
    Other(String),
}

pub fn tool_result(tool_use_id: &str, name: &str, content: String, is_error: bool) -> Value {
    json!({
        "type": "tool_result",
        "tool_use_id": tool_use_id,
        "name": name,
        "content": content,
        "is_error": is_error,
    })
}

fn error_result(tool_use_id: &str, name: &str, message: impl Into<String>) -> Value {
    tool_result(
        tool_use_id,
        name,
        format!("Error: {}", message.into()),
        true,
    )
}

fn required_string(input: &Value, field: &str) -> Result<String, String> {
    match input.get(field) {
        None | Some(Value::Null) => Err(format!("missing required field '{field}'")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(format!("field '{field}' must not be empty"))
        }
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("field '{field}' must be a string, got {other}")),
    }
}

/// Validate a tool call (see `check_event`). `Err` carries the finished error tool_result.
pub fn parse_request(event: &Value) -> Result<Request, Value> {
    let tool_use_id = event
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = event.get("name").and_then(Value::as_str).unwrap_or("");
    if name != TOOL_NAME {
        return Err(error_result(
            &tool_use_id,
            name,
            format!("unknown tool '{name}': this function implements '{TOOL_NAME}'"),
        ));
    }
    let err = |m: String| error_result(&tool_use_id, TOOL_NAME, m);
    let no_input = Value::Object(Default::default());
    let input = match event.get("input") {
        Some(v @ Value::Object(_)) => v,
        None => &no_input,
        Some(_) => return Err(err("'input' must be an object".into())),
    };
    let bucket = required_string(input, "bucket").map_err(err)?;
    let key = required_string(input, "key").map_err(err)?;
    let min_cluster_size = match input.get("min_cluster_size") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) => Some(n),
            None => match v.as_f64() {
                Some(f) if f.fract() == 0.0 && f >= 0.0 => Some(f as u64),
                _ => {
                    return Err(err(format!(
                        "field 'min_cluster_size' must be a positive integer, got {v}"
                    )))
                }
            },
        },
    };
    let features = match input.get("features") {
        None | Some(Value::Null) => Features::ZNormalised,
        Some(Value::String(s)) if s == "znorm" => Features::ZNormalised,
        Some(Value::String(s)) if s == "raw" => Features::Raw,
        Some(v) => {
            return Err(err(format!(
                "field 'features' must be \"znorm\" or \"raw\", got {v}"
            )))
        }
    };
    Ok(Request {
        tool_use_id,
        bucket,
        key,
        min_cluster_size,
        features,
    })
}

/// Cluster the bytes of an already-fetched object.
pub fn run_on_bytes(req: &Request, bytes: &[u8]) -> Value {
    let err = |m: String| error_result(&req.tool_use_id, TOOL_NAME, m);
    let series = match cluster::parse_object(bytes) {
        Ok(s) => s,
        Err(m) => return err(format!("s3://{}/{}: {m}", req.bucket, req.key)),
    };
    match cluster::cluster_series(&series, req.min_cluster_size, req.features) {
        Ok(c) => tool_result(&req.tool_use_id, TOOL_NAME, c.to_json().to_string(), false),
        Err(m) => err(format!("s3://{}/{}: {m}", req.bucket, req.key)),
    }
}

/// The whole tool, with the S3 read and (for results over the inline limit) the write to
/// `artifact_bucket` injected, so it can be tested without AWS (see `large_results::bound`).
pub async fn handle<F, Fut, P, PFut>(
    event: &Value,
    fetch: F,
    artifact_bucket: Option<&str>,
    put: P,
) -> Result<Value, MalformedToolEvent>
where
    F: FnOnce(String, String) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, FetchError>>,
    P: FnOnce(String, String, String) -> PFut,
    PFut: Future<Output = Result<(), String>>,
{
    check_event(event)?;
    let result = match parse_request(event) {
        Ok(req) => answer(&req, fetch).await,
        Err(result) => result,
    };
    Ok(large_results::bound(result, artifact_bucket, put).await)
}

async fn answer<F, Fut>(req: &Request, fetch: F) -> Value
where
    F: FnOnce(String, String) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, FetchError>>,
{
    match fetch(req.bucket.clone(), req.key.clone()).await {
        Ok(bytes) => run_on_bytes(req, &bytes),
        Err(e) => {
            let where_ = format!("s3://{}/{}", req.bucket, req.key);
            let msg = match e {
                FetchError::NotFound => format!("object {where_} not found"),
                FetchError::TooLarge(n) => format!(
                    "object {where_} is {n} bytes, more than the {MAX_OBJECT_BYTES} this tool reads"
                ),
                FetchError::Other(m) => format!("could not read {where_}: {m}"),
            };
            error_result(&req.tool_use_id, TOOL_NAME, msg)
        }
    }
}
