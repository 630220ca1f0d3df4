//! `stressor serve --chatbot`: the built-in CLINC150 chatbot over chat completions.
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::process::Command;

use crate::cli::{http, spawn_until};
use crate::{scratch, stressor};

#[test]
fn serve_chatbot_answers_chat_completions_with_the_intent_and_stops_on_sigint() {
    let dir = scratch("serve-chatbot");
    let (mut child, addr) = spawn_until(
        stressor()
            .args(["serve", "--chatbot", "--addr", "127.0.0.1:0", "--handoff-threshold", "0.2"])
            .arg("--cache-dir")
            .arg(dir.join("cache")),
        "serving",
    );
    let body = r#"{"model": "chatbot", "messages": [{"role": "user", "content": "what is my bank account balance"}]}"#;
    let response = http(
        &addr,
        &format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{response}");
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["stressor"]["intent"], "balance", "{json}");
    let confidence = json["stressor"]["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence), "{json}");
    assert!(json["choices"][0]["message"]["content"].is_string(), "{json}");
    let killed = Command::new("kill").args(["-INT", &child.0.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}
