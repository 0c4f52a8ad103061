//! The two binaries as an operator meets them: `haven-admin` on its own (help, unknown
//! commands, which database it writes), and `haven-local` started on another port, whose
//! links in texts must point at that port.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "violet harbour compass 93 drum";

fn admin_command(cwd: &Path, run_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_haven-admin"));
    c.current_dir(cwd)
        .env_remove("HAVEN_DATA_DIR")
        .env_remove("HAVEN_BACKEND")
        .env("HAVEN_RUN_DIR", run_dir);
    c
}

#[test]
fn help_lists_the_commands_and_unknown_commands_change_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = dir.path().join("run");
    for args in [&["help"][..], &["--help"], &["-h"], &[]] {
        let out = admin_command(dir.path(), &run)
            .args(args)
            .output()
            .expect("haven-admin");
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        for command in [
            "create-admin",
            "rotate-signing-key",
            "import-hospitals",
            "provision",
            "HAVEN_DATA_DIR",
        ] {
            assert!(text.contains(command), "{args:?}: {text}");
        }
    }
    let out = admin_command(dir.path(), &run)
        .arg("frobnicate")
        .output()
        .expect("haven-admin");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown command `frobnicate`"));
    let out = admin_command(dir.path(), &run)
        .args(["import-hospitals", "missing.csv"])
        .output()
        .expect("haven-admin");
    assert!(!out.status.success());
    assert!(
        !dir.path().join(".haven").exists(),
        "neither help, an unknown command nor a missing file creates a database"
    );
}

struct Gateway {
    child: Child,
    url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `haven-local` on a free port (PORT=0), as `make dev` starts it.
fn start_gateway(data_dir: &Path, run_dir: &Path) -> Gateway {
    let mut child = Command::new(env!("CARGO_BIN_EXE_haven-local"))
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

async fn send(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
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

async fn sign_in(base: &str, email: &str, password: &str) -> String {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_on_another_port_links_to_that_port_and_haven_admin_knows_its_database() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (data, run) = (dir.path().join("gateway-data"), dir.path().join("run"));
    let gw = start_gateway(&data, &run);
    assert!(!gw.url.ends_with(":3000"), "PORT=0 picked a free port");

    // haven-admin says which database it writes, and whether the gateway serves it.
    let hospitals = dir.path().join("one.json");
    std::fs::write(
        &hospitals,
        r#"[{"hospital_id":"test-clinic","name":"Test Clinic","latitude":-1.3,"longitude":36.8,"level":4,"ed_status":"open"}]"#,
    )
    .expect("write");
    let import = |data_dir: &Path| {
        let out = admin_command(dir.path(), &run)
            .env("HAVEN_DATA_DIR", data_dir)
            .arg("import-hospitals")
            .arg(&hospitals)
            .output()
            .expect("haven-admin");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let elsewhere = import(&dir.path().join("elsewhere"));
    assert!(
        elsewhere.contains("elsewhere/haven.sqlite3 (new)")
            && elsewhere.contains("no running gateway serves this database")
            && elsewhere.contains(&format!("HAVEN_DATA_DIR={}", data.display())),
        "{elsewhere}"
    );
    let here = import(&data);
    assert!(
        here.contains("gateway-data/haven.sqlite3 (existing)")
            && here.contains(&format!("the gateway at {}", gw.url)),
        "{here}"
    );

    // A hospital told by SMS gets a link to this gateway's port, in the text and the page.
    let base = gw.url.clone();
    let admin = sign_in(&base, "admin@haven.local", ADMIN_PASSWORD).await;
    let (status, _) = send(
        "PUT",
        &format!("{base}/api/v1/hospitals/demo-knh"),
        Some(&admin),
        Some(json!({"channels": ["sms"], "sms_numbers": ["+254700000001"]})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, created) = send(
        "POST",
        &format!("{base}/api/v1/auth/register"),
        None,
        Some(json!({"email": "wanjiru@example.org", "password": "amber falcon river quartz 42", "full_name": "Wanjiru Kamau"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let patient = sign_in(&base, "wanjiru@example.org", "amber falcon river quartz 42").await;
    let (status, alert) = send(
        "POST",
        &format!("{base}/api/v1/emergency/alert"),
        Some(&patient),
        Some(json!({"latitude": -1.3009, "longitude": 36.8073, "emergency_type": "trauma"})),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    assert_eq!(alert["hospital"]["hospital_id"], "demo-knh", "{alert}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let (_, outbox) = send(
            "GET",
            &format!("{base}/local/sms-outbox"),
            Some(&admin),
            None,
        )
        .await;
        if let Some(t) = outbox["messages"]
            .as_array()
            .and_then(|m| m.iter().find_map(|m| m["text"].as_str()))
        {
            break t.to_owned();
        }
        assert!(Instant::now() < deadline, "no text in the outbox");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .expect("a link in the text");
    assert!(
        link.starts_with(&format!("{base}/api/v1/hospital/comms/ack/")),
        "{link} is not on {base}"
    );
    let (status, shown) = send("GET", link, None, None).await;
    assert_eq!(status, 200, "{shown}");

    // SIGTERM stops it cleanly, and it no longer claims the database.
    let mut gw = gw;
    let _ = Command::new("kill").arg(gw.child.id().to_string()).status();
    let _ = gw.child.wait();
    assert!(
        import(&data).contains("no gateway is running"),
        "after stop"
    );
}
