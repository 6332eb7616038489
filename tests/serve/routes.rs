//! Every route's answer, its expected values from a separate classifier with the cache off
//! (never the serving classifier's cache).

use emotion_classifier::server::ServerConfig;
use emotion_classifier::{LongTexts, Truncation, TruncationSide};

use super::{assert_predictions, get, pairs, post, Server};
use crate::support::uncached_classifier;

const MODEL: &str = "emotion-minilm-ekman";

#[test]
fn predict_root_and_invocations_answer_every_score_or_the_logits() {
    let _serial = super::serial();
    let server = Server::model(MODEL, ServerConfig::builder());
    let expected = uncached_classifier(MODEL);
    let love = expected.classify("I love this").unwrap();
    let sad = expected.classify("so sad and alone").unwrap();
    for route in ["/predict", "/", "/invocations"] {
        let url = format!("{}{route}", server.url);
        let one = post(&url, r#"{"inputs": "I love this"}"#);
        assert_eq!(one.status, 200, "{route}: {}", one.body);
        assert_predictions(&one.json(), &pairs(love.labels(), love.scores()));
        let listed = post(&url, r#"{"inputs": ["I love this"]}"#);
        assert_eq!(listed.json(), one.json(), "{route}");
        let batch = post(
            &url,
            r#"{"inputs": [["I love this"], ["so sad and alone"]]}"#,
        );
        assert_eq!(batch.status, 200);
        let batch = batch.json();
        assert_predictions(&batch[0], &pairs(love.labels(), love.scores()));
        assert_predictions(&batch[1], &pairs(sad.labels(), sad.scores()));
        let raw = post(
            &url,
            r#"{"inputs": [["so sad and alone"]], "raw_scores": true}"#,
        );
        assert_predictions(&raw.json()[0], &pairs(sad.labels(), sad.logits().unwrap()));
    }
}

#[test]
fn long_texts_are_cut_by_default_as_tei_1_9_and_refused_when_asked() {
    let _serial = super::serial();
    let server = Server::model(MODEL, ServerConfig::builder());
    let expected = uncached_classifier(MODEL);
    let long = format!("{}{}", "awful ".repeat(600), "happy ".repeat(510));
    let url = format!("{}/predict", server.url);
    let body = |extra: &str| format!(r#"{{"inputs": "{long}"{extra}}}"#);
    for (extra, side) in [
        ("", TruncationSide::Right),
        (r#", "truncation_direction": "Left""#, TruncationSide::Left),
        (
            r#", "truncate": true, "truncation_direction": "left""#,
            TruncationSide::Left,
        ),
    ] {
        let got = post(&url, &body(extra));
        assert_eq!(got.status, 200, "{extra}: {}", got.body);
        let truncation = Truncation {
            long_texts: LongTexts::Truncate,
            side,
        };
        let want = expected.classify_each_with(&[long.as_str()], truncation);
        let want = want[0].as_ref().unwrap();
        assert!(want.truncated());
        assert_predictions(&got.json(), &pairs(want.labels(), want.scores()));
    }
    let refused = post(&url, &body(r#", "truncate": false"#));
    assert_eq!(refused.status, 422);
    assert_eq!(refused.error_type(), "Validation");
    assert!(refused.body.contains("512"), "{}", refused.body);
    // --auto-truncate false: refused unless the request says truncate.
    let strict = Server::model(MODEL, ServerConfig::builder().auto_truncate(false));
    let url = format!("{}/predict", strict.url);
    assert_eq!(post(&url, &body("")).status, 422);
    assert_eq!(post(&url, &body(r#", "truncate": true"#)).status, 200);
}

#[test]
fn decide_answers_the_labels_over_the_models_thresholds() {
    let _serial = super::serial();
    let server = Server::model(MODEL, ServerConfig::builder());
    let expected = uncached_classifier(MODEL);
    let texts = ["I love this so much", "this is awful and I hate it", "ok"];
    let body = serde_json::json!({"inputs": texts.map(|t| [t])}).to_string();
    let got = post(&format!("{}/decide", server.url), &body);
    assert_eq!(got.status, 200, "{}", got.body);
    let got = got.json();
    for (i, text) in texts.iter().enumerate() {
        let scores = expected.classify(text).unwrap();
        let decided = scores.decided();
        let want: Vec<(String, f32)> = decided
            .iter()
            .map(|s| (s.label.to_owned(), s.score))
            .collect();
        assert_predictions(&got[i], &want);
        let names: Vec<&str> = got[i]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["label"].as_str().unwrap())
            .collect();
        let want_names: Vec<&str> = decided.iter().map(|s| s.label).collect();
        assert_eq!(names, want_names, "{text}");
    }
    assert!(got[0]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["label"] == "joy"));
}

#[test]
fn explain_gives_each_words_attribution_and_span_as_explain_does() {
    let _serial = super::serial();
    let server = Server::model(MODEL, ServerConfig::builder());
    let expected = uncached_classifier(MODEL);
    let text = "I really love this café";
    let want = expected.explain(text).unwrap();
    for (label, body) in [
        (
            "joy",
            serde_json::json!({"inputs": text, "label": "joy"}).to_string(),
        ),
        (
            want.scores().top().label,
            serde_json::json!({"inputs": text}).to_string(),
        ),
    ] {
        let got = post(&format!("{}/explain", server.url), &body);
        assert_eq!(got.status, 200, "{}", got.body);
        let got = got.json();
        assert_eq!(got["label"], label);
        let attributions = want.for_label(label).unwrap();
        let words = got["words"].as_array().unwrap();
        assert_eq!(words.len(), want.words().len());
        for (w, (word, attribution)) in want.words().iter().zip(&attributions).enumerate() {
            assert_eq!(words[w]["word"], word.in_text(text));
            assert_eq!(
                words[w]["bytes"],
                serde_json::json!([word.bytes.start, word.bytes.end])
            );
            assert_eq!(
                words[w]["chars"],
                serde_json::json!([word.chars.start, word.chars.end])
            );
            let got = words[w]["attribution"].as_f64().unwrap() as f32;
            assert!(
                (got - attribution).abs() < 1e-5,
                "{w}: {got} vs {attribution}"
            );
            let all = &words[w]["attributions"];
            assert_eq!(all.as_object().unwrap().len(), want.scores().len());
        }
        assert_eq!(words[4]["chars"], serde_json::json!([19, 23]));
        assert_eq!(words[4]["bytes"], serde_json::json!([19, 24]));
    }
    let unknown = post(
        &format!("{}/explain", server.url),
        r#"{"inputs": "hi there", "label": "joyful"}"#,
    );
    assert_eq!(unknown.status, 422);
    assert!(unknown.body.contains("joyful"), "{}", unknown.body);
    let empty = post(&format!("{}/explain", server.url), r#"{"inputs": "   "}"#);
    assert_eq!(empty.status, 422);
    let few = Server::model(MODEL, ServerConfig::builder().max_explain_words(3));
    let long = post(
        &format!("{}/explain", few.url),
        r#"{"inputs": "one two three four"}"#,
    );
    assert_eq!(long.status, 422);
    assert!(long.body.contains("4 words"), "{}", long.body);
}

#[test]
fn tokenize_and_decode_answer_as_the_tokenizer_does() {
    let _serial = super::serial();
    let server = Server::model(MODEL, ServerConfig::builder());
    let tokenizer = super::tokenizer(MODEL);
    let text = "I love Zürich!";
    let got = post(
        &format!("{}/tokenize", server.url),
        &serde_json::json!({"inputs": text}).to_string(),
    );
    assert_eq!(got.status, 200, "{}", got.body);
    let got = got.json();
    let encoding = tokenizer.encode(text, true).unwrap();
    let tokens = got[0].as_array().unwrap();
    assert_eq!(tokens.len(), encoding.get_ids().len());
    assert_eq!(tokens[0]["special"], true);
    assert_eq!(tokens[0]["text"], "[CLS]");
    assert!(tokens[0]["start"].is_null());
    for (i, token) in tokens.iter().enumerate() {
        assert_eq!(token["id"], encoding.get_ids()[i]);
        if token["special"] == false {
            let (start, stop) = encoding.get_offsets()[i];
            assert_eq!(token["start"], start);
            assert_eq!(token["stop"], stop);
            assert_eq!(token["text"], &text[start..stop]);
        }
    }
    let without = post(
        &format!("{}/tokenize", server.url),
        r#"{"inputs": ["a b", "c"], "add_special_tokens": false}"#,
    )
    .json();
    assert_eq!(without.as_array().unwrap().len(), 2);
    assert_eq!(without[1].as_array().unwrap().len(), 1);
    let ids: Vec<u32> = encoding.get_ids().to_vec();
    let decoded = post(
        &format!("{}/decode", server.url),
        &serde_json::json!({"ids": [ids.clone(), ids.clone()]}).to_string(),
    );
    assert_eq!(decoded.status, 200, "{}", decoded.body);
    let want = tokenizer.decode(&ids, true).unwrap();
    assert_eq!(decoded.json(), serde_json::json!([want, want]));
    let one = post(
        &format!("{}/decode", server.url),
        &serde_json::json!({"ids": ids, "skip_special_tokens": false}).to_string(),
    );
    assert_eq!(
        one.json(),
        serde_json::json!([tokenizer.decode(&ids, false).unwrap()])
    );
    let prompt = post(
        &format!("{}/tokenize", server.url),
        r#"{"inputs": "a", "prompt_name": "query"}"#,
    );
    assert_eq!(prompt.status, 422);
}

#[test]
fn info_and_health_answer_in_teis_shape() {
    let _serial = super::serial();
    let server = Server::model(
        MODEL,
        ServerConfig::builder()
            .max_client_batch_size(4)
            .tokenization_workers(3),
    );
    let expected = uncached_classifier(MODEL);
    for route in ["/health", "/", "/ping"] {
        let got = get(&format!("{}{route}", server.url));
        assert_eq!((got.status, got.body.as_str()), (200, ""), "{route}");
    }
    let info = get(&format!("{}/info", server.url));
    assert_eq!(info.status, 200);
    let info = info.json();
    assert_eq!(info["model_id"], MODEL);
    assert_eq!(info["served_model_name"], MODEL);
    assert_eq!(info["model_dtype"], "float32");
    assert_eq!(info["max_input_length"], 512);
    assert_eq!(info["max_client_batch_size"], 4);
    assert_eq!(info["max_concurrent_requests"], 512);
    assert_eq!(info["auto_truncate"], true);
    assert_eq!(info["tokenization_workers"], 3);
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    for (i, label) in expected.labels().iter().enumerate() {
        assert_eq!(
            info["model_type"]["classifier"]["id2label"][i.to_string()],
            label.as_str()
        );
        assert_eq!(info["model_type"]["classifier"]["label2id"][label], i);
    }
}

#[test]
fn embedding_and_reranking_routes_answer_as_tei_does_for_a_classifier() {
    let _serial = super::serial();
    let server = Server::model("tiny-distilbert-emotion", ServerConfig::builder());
    for route in [
        "/embed",
        "/embed_all",
        "/embed_sparse",
        "/similarity",
        "/rerank",
    ] {
        let got = post(&format!("{}{route}", server.url), r#"{"inputs": "a"}"#);
        assert_eq!(got.status, 424, "{route}");
        assert_eq!(got.error_type(), "Backend", "{route}");
    }
    for route in ["/embeddings", "/v1/embeddings"] {
        let got = post(&format!("{}{route}", server.url), r#"{"input": "a"}"#);
        assert_eq!(got.status, 424, "{route}");
        let body = got.json();
        assert_eq!(body["code"], 424);
        assert_eq!(body["error_type"], "Backend");
        assert!(body["message"].as_str().unwrap().contains("embedding"));
    }
}
