//! The two binaries as an operator meets them: `haven-admin` on its own (help, unknown
//! commands, which database it writes), and `haven-local` started on another port, whose
//! links in texts must point at that port.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::process::{ADMIN_PASSWORD, send, sign_in, start_gateway};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_on_another_port_links_to_that_port_and_haven_admin_knows_its_database() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (data, run) = (dir.path().join("gateway-data"), dir.path().join("run"));
    let gw = start_gateway(&data, &run, &[]);
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
