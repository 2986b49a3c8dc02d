//! Tests of the tool without AWS: the S3 read is replaced by an in-memory fetch.

use clustering::cluster::{self, Features, Series};
use clustering::{handle, parse_request, FetchError, MalformedToolEvent, TOOL_NAME};
use serde_json::{json, Value};

fn event(input: Value) -> Value {
    json!({"name": TOOL_NAME, "id": "toolu_test", "input": input})
}

fn answer(event: &Value, object: Result<Vec<u8>, FetchError>) -> Result<Value, MalformedToolEvent> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let no_put = |_b, _k, _body| async { unreachable!("no result here is over the inline limit") };
    rt.block_on(handle(
        event,
        move |_b, _k| async move { object },
        Some("artifacts"),
        no_put,
    ))
}

fn run(event: &Value, object: Result<Vec<u8>, FetchError>) -> Value {
    answer(event, object).expect("a tool call gets a tool_result")
}

fn assert_malformed(event: Value, reason: &str) {
    match answer(&event, Ok(vec![])) {
        Err(MalformedToolEvent(message)) => assert_eq!(message, reason, "{event}"),
        Ok(result) => panic!("{event} is not a tool call, yet got {result}"),
    }
}

fn run_ok(input: Value, body: &str) -> Value {
    run(&event(input), Ok(body.as_bytes().to_vec()))
}

fn assert_error(result: &Value, needle: &str) {
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["is_error"], true, "expected an error: {result}");
    let content = result["content"].as_str().unwrap();
    assert!(
        content.to_lowercase().contains(&needle.to_lowercase()),
        "'{content}' does not mention '{needle}'"
    );
}

/// Two shape families (rising ramps at different levels and scales, and upward steps) of 6
/// series each with small jitter, plus one zig-zag outlier. After z-normalisation the two
/// families are correlated (r ~ 0.87) yet well separated, and the zig-zag is uncorrelated with
/// both, so it is farther from each family than the families are from each other.
fn two_family_series() -> Vec<(String, Vec<f64>)> {
    let mut out = Vec::new();
    let n = 24;
    for i in 0..6 {
        let level = 10.0 * i as f64; // different levels: z-normalisation removes them
        let scale = 1.0 + i as f64;
        let v: Vec<f64> = (0..n)
            .map(|t| level + scale * (t as f64 + 0.05 * ((t * (i + 3)) % 5) as f64))
            .collect();
        out.push((format!("up{i}"), v));
    }
    for i in 0..6 {
        let v: Vec<f64> = (0..n)
            .map(|t| {
                let step = if t < n / 2 { 0.0 } else { 50.0 };
                100.0 + step + 0.3 * ((t * (i + 2)) % 3) as f64
            })
            .collect();
        out.push((format!("step{i}"), v));
    }
    let zig: Vec<f64> = (0..n)
        .map(|t| if t % 2 == 0 { 1.0 } else { -1.0 } * (t as f64).sqrt())
        .collect();
    out.push(("zigzag".to_string(), zig));
    out
}

fn series_json(series: &[(String, Vec<f64>)]) -> String {
    let arr: Vec<Value> = series
        .iter()
        .map(|(id, v)| json!({"id": id, "values": v}))
        .collect();
    json!({ "series": arr }).to_string()
}

#[test]
fn clusters_two_shape_families_and_flags_the_outlier() {
    let data = two_family_series();
    let result = run_ok(
        json!({"bucket": "b", "key": "k.json", "min_cluster_size": 3}),
        &series_json(&data),
    );
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(result["tool_use_id"], "toolu_test");
    assert_eq!(result["name"], TOOL_NAME);
    let content: Value = serde_json::from_str(result["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["cluster_count"], 2, "{content}");
    assert_eq!(content["n_series"], 13);
    assert_eq!(content["series_length"], 24);
    let labels = &content["labels"];
    let up = labels["up0"].as_i64().unwrap();
    let step = labels["step0"].as_i64().unwrap();
    assert!(up >= 0 && step >= 0 && up != step);
    for i in 0..6 {
        assert_eq!(labels[format!("up{i}")].as_i64().unwrap(), up);
        assert_eq!(labels[format!("step{i}")].as_i64().unwrap(), step);
    }
    assert_eq!(labels["zigzag"], -1);
    assert_eq!(content["noise_count"], 1);
    assert_eq!(content["cluster_sizes"][up.to_string()], 6);
    assert_eq!(content["cluster_sizes"][step.to_string()], 6);
    let summary = content["summary"].as_str().unwrap();
    assert!(summary.contains("2 clusters"), "{summary}");
    assert!(summary.contains("zigzag"), "{summary}");
    // Labels keep the input order.
    let keys: Vec<&String> = labels.as_object().unwrap().keys().collect();
    assert_eq!(keys[0], "up0");
    assert_eq!(keys[12], "zigzag");
}

#[test]
fn csv_wide_format_gives_the_same_clusters_as_json() {
    let data = two_family_series();
    let mut csv = String::from("id,t0,t1\n");
    for (id, v) in &data {
        let cells: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        csv.push_str(&format!("{id},{}\n", cells.join(",")));
    }
    let a = run_ok(
        json!({"bucket": "b", "key": "k.csv", "min_cluster_size": 3}),
        &csv,
    );
    let b = run_ok(
        json!({"bucket": "b", "key": "k.json", "min_cluster_size": 3}),
        &series_json(&data),
    );
    assert_eq!(a["is_error"], false, "{a}");
    assert_eq!(a["content"], b["content"]);
}

#[test]
fn raw_features_separate_levels_that_znorm_merges() {
    // Same shape, two very different levels.
    let mut s = Vec::new();
    for i in 0..4 {
        s.push(Series {
            id: format!("low{i}"),
            values: (0..10).map(|t| t as f64 + 0.01 * i as f64).collect(),
        });
        s.push(Series {
            id: format!("high{i}"),
            values: (0..10)
                .map(|t| 1000.0 + t as f64 + 0.01 * i as f64)
                .collect(),
        });
    }
    let z = cluster::cluster_series(&s, Some(3), Features::ZNormalised).unwrap();
    let raw = cluster::cluster_series(&s, Some(3), Features::Raw).unwrap();
    assert_eq!(raw.cluster_sizes().len(), 2, "{:?}", raw.labels);
    assert!(z.cluster_sizes().len() <= 1, "{:?}", z.labels);
}

#[test]
fn z_normalise_known_values() {
    let z = cluster::z_normalise(&[1.0, 2.0, 3.0]);
    let s = (2.0f64 / 3.0).sqrt();
    let expected = [-1.0 / s, 0.0, 1.0 / s];
    for (a, b) in z.iter().zip(expected) {
        assert!((a - b).abs() < 1e-12);
    }
    assert_eq!(cluster::z_normalise(&[5.0, 5.0, 5.0]), vec![0.0, 0.0, 0.0]);
}

#[test]
fn default_min_cluster_size_is_five_or_fewer() {
    assert_eq!(cluster::resolve_min_cluster_size(None, 100).unwrap(), 5);
    assert_eq!(cluster::resolve_min_cluster_size(None, 3).unwrap(), 3);
    assert!(cluster::resolve_min_cluster_size(None, 1).is_err());
}

// ---- bad input -> error tool_results ----

#[test]
fn unknown_tool_name() {
    let ev = json!({"name": "drop_tables", "id": "toolu_x", "input": {"bucket": "b", "key": "k"}});
    let r = run(&ev, Ok(vec![]));
    assert_error(&r, "unknown tool");
    assert_eq!(r["tool_use_id"], "toolu_x");
    assert_eq!(r["name"], "drop_tables");
}

#[test]
fn events_that_are_not_tool_calls_are_malformed_tool_events() {
    let not_object = "tool event must be a JSON object with name, id and input";
    for event in [json!(null), json!([]), json!("x"), json!(7)] {
        assert_malformed(event, not_object);
    }
    assert_malformed(json!({}), "tool event lacks string field(s): id, name");
    assert_malformed(
        json!({"id": "", "name": TOOL_NAME}),
        "tool event lacks string field(s): id",
    );
    assert_malformed(
        json!({"id": "t", "name": 7, "input": {}}),
        "tool event lacks string field(s): name",
    );
    for input in [json!("x"), json!(null), json!([1])] {
        assert_malformed(
            json!({"id": "t", "name": TOOL_NAME, "input": input}),
            "tool event field 'input' must be a JSON object",
        );
    }
}

#[test]
fn a_call_without_input_asks_for_its_fields() {
    let r = run(&json!({"id": "t", "name": TOOL_NAME}), Ok(vec![]));
    assert_error(&r, "missing required field 'bucket'");
}

#[test]
fn missing_bucket() {
    assert_error(
        &run_ok(json!({"key": "k"}), "{}"),
        "missing required field 'bucket'",
    );
}

#[test]
fn wrong_typed_fields() {
    assert_error(
        &run_ok(json!({"bucket": 3, "key": "k"}), "{}"),
        "'bucket' must be a string",
    );
    assert_error(
        &run_ok(json!({"bucket": "b", "key": ""}), "{}"),
        "'key' must not be empty",
    );
    assert_error(
        &run_ok(
            json!({"bucket": "b", "key": "k", "min_cluster_size": "3"}),
            "{}",
        ),
        "min_cluster_size",
    );
    assert_error(
        &run_ok(
            json!({"bucket": "b", "key": "k", "min_cluster_size": 2.5}),
            "{}",
        ),
        "min_cluster_size",
    );
    assert_error(
        &run_ok(json!({"bucket": "b", "key": "k", "features": "fft"}), "{}"),
        "features",
    );
}

#[test]
fn missing_object() {
    let r = run(
        &event(json!({"bucket": "b", "key": "nope"})),
        Err(FetchError::NotFound),
    );
    assert_error(&r, "s3://b/nope not found");
    let r = run(
        &event(json!({"bucket": "b", "key": "k"})),
        Err(FetchError::Other("AccessDenied".into())),
    );
    assert_error(&r, "AccessDenied");
}

#[test]
fn empty_object_and_empty_series() {
    let input = json!({"bucket": "b", "key": "k"});
    assert_error(&run_ok(input.clone(), ""), "empty");
    assert_error(&run_ok(input.clone(), "  \n"), "empty");
    assert_error(&run_ok(input.clone(), r#"{"series": []}"#), "no series");
    assert_error(
        &run_ok(
            input.clone(),
            r#"{"series": [{"id": "a", "values": []}, {"id": "b", "values": []}]}"#,
        ),
        "has no values",
    );
    assert_error(&run_ok(input, "id,t0\n"), "no series");
}

#[test]
fn unequal_lengths() {
    let body = r#"{"series": [{"id": "a", "values": [1, 2, 3]}, {"id": "b", "values": [1, 2]}]}"#;
    assert_error(
        &run_ok(json!({"bucket": "b", "key": "k"}), body),
        "same length",
    );
    assert_error(
        &run_ok(json!({"bucket": "b", "key": "k"}), "a,1,2,3\nb,1,2\n"),
        "same length",
    );
}

#[test]
fn non_numeric_values() {
    let body =
        r#"{"series": [{"id": "a", "values": [1, "x", 3]}, {"id": "b", "values": [1, 2, 3]}]}"#;
    assert_error(
        &run_ok(json!({"bucket": "b", "key": "k"}), body),
        "not a number",
    );
    assert_error(
        &run_ok(json!({"bucket": "b", "key": "k"}), "a,1,oops\nb,1,2\n"),
        "not a number",
    );
    assert_error(
        &run_ok(json!({"bucket": "b", "key": "k"}), "a,1,NaN\nb,1,2\n"),
        "finite",
    );
}

#[test]
fn malformed_documents() {
    let input = json!({"bucket": "b", "key": "k"});
    assert_error(&run_ok(input.clone(), "{\"series\": [1,"), "not valid JSON");
    assert_error(&run_ok(input.clone(), r#"{"data": []}"#), "no \"series\"");
    assert_error(
        &run_ok(input.clone(), r#"{"series": {}}"#),
        "must be an array",
    );
    assert_error(
        &run_ok(input.clone(), r#"{"series": [{"values": [1]}]}"#),
        "\"id\"",
    );
    assert_error(
        &run_ok(
            input.clone(),
            r#"{"series": [{"id": "a", "values": [1]}, {"id": "a", "values": [2]}]}"#,
        ),
        "duplicate",
    );
    assert_error(&run_ok(input.clone(), ",1,2\n"), "empty series id");
    let r = run(&event(input), Ok(vec![0xff, 0xfe, 0x00]));
    assert_error(&r, "UTF-8");
}

#[test]
fn min_cluster_size_out_of_range() {
    let body = r#"{"series": [{"id": "a", "values": [1, 2]}, {"id": "b", "values": [2, 1]}, {"id": "c", "values": [1, 3]}]}"#;
    assert_error(
        &run_ok(
            json!({"bucket": "b", "key": "k", "min_cluster_size": 4}),
            body,
        ),
        "larger than the number of series (3)",
    );
    assert_error(
        &run_ok(
            json!({"bucket": "b", "key": "k", "min_cluster_size": 1}),
            body,
        ),
        "at least 2",
    );
    let one = r#"{"series": [{"id": "a", "values": [1, 2]}]}"#;
    assert_error(
        &run_ok(json!({"bucket": "b", "key": "k"}), one),
        "at least 2 series",
    );
}

#[test]
fn parse_request_accepts_integral_float_min_cluster_size() {
    let req = parse_request(&event(
        json!({"bucket": "b", "key": "k", "min_cluster_size": 3.0}),
    ))
    .unwrap();
    assert_eq!(req.min_cluster_size, Some(3));
    assert_eq!(req.features, Features::ZNormalised);
}
