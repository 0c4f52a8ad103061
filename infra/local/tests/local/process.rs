//! `haven-local` as a child process, and plain HTTP calls to it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The system admin's password every gateway here starts with (`admin@haven.local`).
pub const ADMIN_PASSWORD: &str = "violet harbour compass 93 drum";

pub struct Gateway {
    pub child: Child,
    pub url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `haven-local` on a free port (PORT=0), as `make dev` starts it, with `env` added.
pub fn start_gateway(data_dir: &Path, run_dir: &Path, env: &[(&str, &str)]) -> Gateway {
    let mut child = Command::new(env!("CARGO_BIN_EXE_haven-local"))
        .envs(env.iter().copied())
        .env("PORT", "0")
        .env("HAVEN_DATA_DIR", data_dir)
        .env("HAVEN_RUN_DIR", run_dir)
        .env("HAVEN_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env_remove("HAVEN_PUBLIC_URL")
        .env_remove("HAVEN_BACKEND")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("haven-local");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("haven-local printed its address")
            .expect("a line");
        if let Some(rest) = line.strip_prefix("Haven is running at ") {
            break rest.split_whitespace().next().expect("url").to_owned();
        }
    };
    // Keep draining stdout so the gateway never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Gateway { child, url }
}

pub async fn send(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    haven_webhooks::install_default_crypto();
    let mut r = reqwest::Client::new().request(method.parse().expect("method"), url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let response = r.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn sign_in(base: &str, email: &str, password: &str) -> String {
    let (status, body) = send(
        "POST",
        &format!("{base}/api/v1/auth/login"),
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}
