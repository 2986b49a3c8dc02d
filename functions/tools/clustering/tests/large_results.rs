//! Large results: the contract's shared cases (tests/contract/large_results.json at the repository
//! root, which the Python, TypeScript, Java and Go helpers are tested against too), and a
//! clustering result over the inline limit stored through the tool's own `handle`.

use clustering::large_results::{bound, INLINE_LIMIT, PREVIEW_CHARS};
use clustering::{handle, TOOL_NAME};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::cell::RefCell;

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../tests/contract/large_results.json"
);

/// What the tool asked S3 to store, as (bucket, key, body).
type Puts = RefCell<Vec<(String, String, String)>>;

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn bound_recording(result: Value, bucket: Option<&str>, puts: &Puts) -> Value {
    block_on(bound(result, bucket, |b, k, body| async move {
        puts.borrow_mut().push((b, k, body));
        Ok(())
    }))
}

#[test]
fn every_shared_case_gets_the_python_helpers_answer() {
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(CASES).unwrap()).unwrap();
    assert_eq!(cases["inline_limit"], json!(INLINE_LIMIT));
    assert_eq!(cases["preview_chars"], json!(PREVIEW_CHARS));
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let content = case["unit"]
            .as_str()
            .unwrap()
            .repeat(case["repeat"].as_u64().unwrap() as usize);
        let puts = Puts::default();
        let result = json!({"tool_use_id": case["tool_use_id"], "content": content});
        let out = bound_recording(result, case["bucket"].as_str(), &puts);

        let expect = &case["expect"];
        let shown = out["content"].as_str().unwrap();
        let digest = hex::encode(Sha256::digest(shown.as_bytes()));
        assert_eq!(digest, expect["content_sha256"].as_str().unwrap(), "{name}");
        match expect["content_ends_with"].as_str() {
            Some(tail) => assert!(shown.ends_with(tail), "{name}: {}", &shown[4000..]),
            None => assert_eq!(shown, content, "{name}"),
        }
        let content_ref = out.get("content_ref").cloned().unwrap_or(Value::Null);
        assert_eq!(content_ref, expect["content_ref"], "{name}");
        let stored: Vec<(String, String, String)> = match expect["content_ref"].as_object() {
            Some(r) => vec![(
                r["bucket"].as_str().unwrap().into(),
                r["key"].as_str().unwrap().into(),
                content.clone(),
            )],
            None => vec![],
        };
        assert!(*puts.borrow() == stored, "{name}: stored the wrong objects");
    }
}

#[test]
fn a_bucket_that_refuses_the_object_gives_an_error_result() {
    let result =
        json!({"tool_use_id": "t", "content": "x".repeat(INLINE_LIMIT + 1), "is_error": false});
    let out = block_on(bound(result, Some("gone"), |_b, _k, _body| async {
        Err("NoSuchBucket".to_string())
    }));
    assert_eq!(out["is_error"], true);
    assert_eq!(
        out["content"],
        "the result (16385 characters) could not be stored in the artifact bucket (NoSuchBucket)"
    );
    assert!(out.get("content_ref").is_none());
}

/// 2,000 series with long (sensor path) ids: labels and clusters name each id, so the answer is
/// far over the inline limit.
#[test]
fn a_large_clustering_result_is_stored_and_previewed() {
    let series: Vec<Value> = (0..2_000)
        .map(|i| {
            let id = format!(
                "plant-{:02}/line-{}/sensor-{i:05}/{}",
                i % 7,
                i % 3,
                "temperature-c".repeat(3)
            );
            let level = if i % 2 == 0 { 1.0 } else { -1.0 };
            let values: Vec<f64> = (0..6)
                .map(|t| level * t as f64 + (i % 5) as f64 * 0.01)
                .collect();
            json!({"id": id, "values": values})
        })
        .collect();
    let object = json!({ "series": series }).to_string().into_bytes();
    let event = json!({"name": TOOL_NAME, "id": "toolu_big", "input": {"bucket": "in", "key": "s.json", "features": "raw"}});
    let puts = Puts::default();
    let fetch = move |_b, _k| async move { Ok(object) };
    let put = |b, k, body| {
        puts.borrow_mut().push((b, k, body));
        async { Ok(()) }
    };
    let out = block_on(handle(&event, fetch, Some("artifacts"), put)).unwrap();

    assert_eq!(out["is_error"], false, "{out}");
    let (bucket, key, body) = puts.borrow()[0].clone();
    let full: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(full["n_series"], 2_000);
    assert!(body.len() > 256 * 1024, "{} bytes", body.len());
    assert_eq!(bucket, "artifacts");
    assert!(key.starts_with("tool-results/toolu_big/") && key.ends_with(".txt"));
    assert_eq!(
        out["content_ref"],
        json!({"bucket": "artifacts", "key": key, "chars": body.len()})
    );
    let shown = out["content"].as_str().unwrap();
    assert!(shown.starts_with(&body[..PREVIEW_CHARS]));
    assert!(shown.ends_with(&format!("Full result: s3://artifacts/{key}]")));
}
