//! Tool results of any size (docs/contract.md, "Large results"): content above `INLINE_LIMIT`
//! characters goes to the artifact bucket and the model gets a preview plus the object's
//! reference. Thresholds, key, preview text and `content_ref` are those of the Python helper
//! (layers/agent_core/agent_core/large_results.py); tests/contract/large_results.json holds the
//! cases every language is tested against. Characters are Unicode scalar values (code points),
//! as Python counts them.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::future::Future;

pub const INLINE_LIMIT: usize = 16_384;
pub const PREVIEW_CHARS: usize = 4_096;
const PREFIX: &str = "tool-results";

/// Content-addressed, so a retried call rewrites the same object.
pub fn object_key(tool_use_id: &str, content: &str) -> String {
    let digest = hex::encode(Sha256::digest(content.as_bytes()));
    let safe: String = tool_use_id
        .chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' => c,
            _ => '_',
        })
        .take(80)
        .collect();
    format!("{PREFIX}/{safe}/{}.txt", &digest[..32])
}

/// The first `PREVIEW_CHARS` characters of `content` (`chars` in all) and where the rest is.
pub fn preview(content: &str, chars: usize, location: &str) -> String {
    let end = content
        .char_indices()
        .nth(PREVIEW_CHARS)
        .map_or(content.len(), |(i, _)| i);
    format!(
        "{}\n[result truncated: {chars} characters in all; the first {PREVIEW_CHARS} are shown. \
         Full result: {location}]",
        &content[..end]
    )
}

/// `result` (a tool_result) with content over `INLINE_LIMIT` characters stored by `put(bucket,
/// key, body)` and replaced by a preview and `content_ref`; without a bucket the content is only
/// cut. When `put` fails (its `Err` names why, e.g. `NoSuchBucket`) the answer is an error result.
pub async fn bound<P, Fut>(mut result: Value, bucket: Option<&str>, put: P) -> Value
where
    P: FnOnce(String, String, String) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let Some(content) = result["content"].as_str() else {
        return result;
    };
    // Bytes are at least as many as characters: most results need no count.
    if content.len() <= INLINE_LIMIT {
        return result;
    }
    let chars = content.chars().count();
    if chars <= INLINE_LIMIT {
        return result;
    }
    let content = content.to_string();
    let Some(bucket) = bucket.filter(|b| !b.is_empty()) else {
        result["content"] = json!(preview(&content, chars, "not stored (no ARTIFACT_BUCKET)"));
        return result;
    };
    let key = object_key(result["tool_use_id"].as_str().unwrap_or(""), &content);
    let shown = preview(&content, chars, &format!("s3://{bucket}/{key}"));
    match put(bucket.to_string(), key.clone(), content).await {
        Ok(()) => {
            result["content"] = json!(shown);
            result["content_ref"] = json!({"bucket": bucket, "key": key, "chars": chars});
        }
        Err(why) => {
            result["content"] = json!(format!(
                "the result ({chars} characters) could not be stored in the artifact bucket ({why})"
            ));
            result["is_error"] = json!(true);
        }
    }
    result
}
