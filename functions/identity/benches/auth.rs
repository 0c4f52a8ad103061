//! What signing in and checking a token cost, per call, on this machine:
//! `cargo bench -p haven-identity --bench auth`. Prints figures; asserts nothing about speed.

use std::time::{Duration, Instant};

use haven_identity_core::accounts::{self, NewAccount};
use haven_identity_core::sessions::{self, Credentials, LoginOutcome};
use haven_identity_core::{keys, password, tokens};
use haven_platform::EmbeddedPorts;

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name:<44} n={:<5} mean={:>10.3?} p50={:>10.3?} p99={:>10.3?}",
        samples.len(),
        mean,
        pct(0.5),
        pct(0.99)
    );
}

async fn time<F, Fut>(n: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        f().await;
        out.push(started.elapsed());
    }
    out
}

fn main() {
    haven_platform::block_on(async {
        let dir = tempfile::tempdir().expect("temporary directory");
        let ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
        let pw = "amber falcon river quartz 42";
        let phc = password::hash(pw).expect("hash");
        report(
            "argon2id hash (19 MiB, t=2, p=1)",
            time(20, || async { password::hash(pw).map(drop).expect("hash") }).await,
        );
        report(
            "argon2id verify",
            time(20, || async { assert!(password::verify(pw, &phc)) }).await,
        );

        accounts::register(
            &ports,
            NewAccount {
                email: "bench@example.org".into(),
                password: pw.into(),
                full_name: "Bench Mark".into(),
                phone: None,
                role: None,
                hospital_id: None,
            },
        )
        .await
        .expect("register");
        let login = || async {
            let outcome = sessions::login(
                &ports,
                Credentials {
                    email: "bench@example.org".into(),
                    password: pw.into(),
                },
            )
            .await;
            assert!(matches!(outcome, Ok(LoginOutcome::Tokens(_))));
        };
        report(
            "login use case (embedded: argon2 + session)",
            time(20, login).await,
        );

        let token = match sessions::login(
            &ports,
            Credentials {
                email: "bench@example.org".into(),
                password: pw.into(),
            },
        )
        .await
        {
            Ok(LoginOutcome::Tokens(p)) => p.access_token,
            other => panic!("{other:?}"),
        };
        let verifying = keys::verifying_keys(&ports, false).await.expect("keys");
        let now = chrono::Utc::now().timestamp();
        report(
            "JWT verify (EdDSA, pure)",
            time(2000, || async {
                tokens::verify(&token, &verifying, tokens::TokenKind::Access, now)
                    .map(drop)
                    .expect("verify")
            })
            .await,
        );
        report(
            "authenticate (verify + session read, embedded)",
            time(2000, || async {
                sessions::authenticate(&ports, &token, false)
                    .await
                    .map(drop)
                    .expect("authenticate")
            })
            .await,
        );
    });
}
