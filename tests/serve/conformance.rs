//! Every answer's body checked against the OpenAPI documents: TEI 1.9.3's own
//! (`../shared/peers/tei/openapi.json`) for TEI's routes, and the server's
//! (`/api-doc/openapi.json`, generated from its types) for every route, its statuses included.

use serde_json::{json, Value};

use emotion_classifier::server::ServerConfig;

use super::{call, get, Answer, Server};
use crate::support::models_dir;

/// OpenAPI 3.0's `nullable: true` as JSON Schema's `type: [t, "null"]`, everywhere in `value`.
fn nullable_to_types(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                }
            }
            map.values_mut().for_each(nullable_to_types);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_to_types),
        _ => {}
    }
}

/// The schema of `method path`'s answer with `status` in `document`, as a validator rooted
/// in the document (so its `$ref`s resolve); `None` if the document does not describe it.
fn validator(
    document: &Value,
    path: &str,
    method: &str,
    status: u16,
) -> Option<jsonschema::Validator> {
    let response = &document["paths"][path][method]["responses"][status.to_string()];
    let schema = response["content"]["application/json"]["schema"].clone();
    if schema.is_null() {
        return None;
    }
    let mut root = json!({"components": document["components"].clone()});
    if let (Value::Object(root), Value::Object(schema)) = (&mut root, schema) {
        root.extend(schema);
    }
    Some(
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .unwrap_or_else(|e| panic!("{method} {path} {status}: {e}")),
    )
}

fn check(document: &Value, name: &str, path: &str, method: &str, answer: &Answer) -> bool {
    let Some(validator) = validator(document, path, method, answer.status) else {
        return false;
    };
    let body = answer.json();
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {} against {name}: {errors:?}\n{body}",
        answer.status
    );
    true
}

#[test]
fn every_answer_matches_teis_openapi_document_and_the_servers_own() {
    let _serial = super::serial();
    let tei_path = models_dir().join("../peers/tei/openapi.json");
    let mut tei: Value =
        serde_json::from_str(&std::fs::read_to_string(&tei_path).unwrap()).unwrap();
    nullable_to_types(&mut tei);
    let server = Server::model(
        "emotion-minilm-ekman",
        ServerConfig::builder()
            .max_client_batch_size(2)
            .payload_limit(4000),
    );
    let own = get(&format!("{}/api-doc/openapi.json", server.url));
    assert_eq!(own.status, 200);
    let own = own.json();
    assert!(own["openapi"].as_str().unwrap().starts_with("3."));
    let exchanges: Vec<(&str, &str, Option<String>, u16)> = vec![
        (
            "/predict",
            "post",
            Some(r#"{"inputs": "I love it"}"#.into()),
            200,
        ),
        (
            "/predict",
            "post",
            Some(r#"{"inputs": [["I love it"], ["sad"]]}"#.into()),
            200,
        ),
        (
            "/predict",
            "post",
            Some(r#"{"inputs": [["a"], ["b"], ["c"]]}"#.into()),
            422,
        ),
        ("/predict", "post", Some(r#"{"inputs": []}"#.into()), 400),
        (
            "/predict",
            "post",
            Some(format!(r#"{{"inputs": "{}"}}"#, "a".repeat(5000))),
            413,
        ),
        (
            "/predict",
            "post",
            Some(format!(
                r#"{{"inputs": "{}", "truncate": false}}"#,
                "a ".repeat(600)
            )),
            422,
        ),
        (
            "/decide",
            "post",
            Some(r#"{"inputs": [["I love it"], ["so sad"]]}"#.into()),
            200,
        ),
        (
            "/explain",
            "post",
            Some(r#"{"inputs": "I love it", "label": "joy"}"#.into()),
            200,
        ),
        (
            "/explain",
            "post",
            Some(r#"{"inputs": "I love it", "label": "nope"}"#.into()),
            422,
        ),
        (
            "/tokenize",
            "post",
            Some(r#"{"inputs": ["I love it", "x"]}"#.into()),
            200,
        ),
        ("/tokenize", "post", Some(r#"{"inputs": []}"#.into()), 400),
        (
            "/decode",
            "post",
            Some(r#"{"ids": [101, 1045, 102]}"#.into()),
            200,
        ),
        ("/info", "get", None, 200),
        ("/health", "get", None, 200),
        ("/embed", "post", Some(r#"{"inputs": "a"}"#.into()), 424),
        (
            "/v1/embeddings",
            "post",
            Some(r#"{"input": "a"}"#.into()),
            424,
        ),
    ];
    let mut against_tei = 0;
    for (path, method, body, status) in exchanges {
        let answer = call(
            &method.to_uppercase(),
            &format!("{}{path}", server.url),
            body.as_deref(),
            &[],
        );
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
        if answer.body.is_empty() {
            continue;
        }
        if check(&tei, "TEI's document", path, method, &answer) {
            against_tei += 1;
        }
        // The routes for other kinds of models are TEI's, not the server's own.
        if path.starts_with("/embed") || path.ends_with("embeddings") {
            continue;
        }
        assert!(
            check(&own, "the server's document", path, method, &answer),
            "{method} {path} {status} is not in the server's own document"
        );
    }
    assert!(
        against_tei >= 11,
        "only {against_tei} answers were checked against TEI's document"
    );
    // Overloaded (429) and unhealthy (503): the error shape both documents give them.
    let error = &tei["components"]["schemas"]["ErrorResponse"];
    assert!(!error.is_null());
}

#[test]
fn the_docs_page_is_served() {
    let _serial = super::serial();
    let server = Server::model("tiny-distilbert-emotion", ServerConfig::builder());
    let page = get(&format!("{}/docs/", server.url));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("swagger"),
        "{}",
        &page.body[..page.body.len().min(400)]
    );
    let document = get(&format!("{}/api-doc/openapi.json", server.url)).json();
    for path in [
        "/predict",
        "/decide",
        "/explain",
        "/tokenize",
        "/decode",
        "/info",
        "/health",
        "/metrics",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
}
