//! `haven-admin`: one-off operations on a deployment, on the backend `HAVEN_BACKEND` names
//! (on AWS: run with the stack's environment, see docs/identity.md, "First admin").
//!
//!   haven-admin create-admin        first system admin (HAVEN_ADMIN_EMAIL, HAVEN_ADMIN_PASSWORD)
//!   haven-admin rotate-signing-key  sign new tokens with a new key; the old one keeps verifying
//!   haven-admin provision           (AWS backend, off AWS) create the table, queues, topics and
//!                                   key as template.yaml does, e.g. on moto's server
//!   haven-admin import-hospitals FILE [--replace]
//!                                   load hospitals from a KMHFL CSV export (`.csv`) or Haven's
//!                                   JSON (`.json`, an array of profiles). A row that is a hospital
//!                                   Haven has (same id, KMHFL code, or name at the same place) is
//!                                   merged into it: it gains what it lacks and keeps its live
//!                                   capacity and channels. --replace lets the file's profile win.

use haven_domain::hospitals::import;
use haven_domain::identity::keys;
use haven_domain::ports::Ports;
use haven_platform::{AwsPorts, Backend, EmbeddedPorts};

async fn run<P: Ports>(ports: &P, command: &str) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        "create-admin" => match haven_local::admin::bootstrap_from_env(ports).await? {
            Some((email, Some(password))) => {
                println!("created system admin {email} with password {password} (shown once)")
            }
            Some((email, None)) => {
                println!("system admin {email} exists or was created with the given password")
            }
            None => {}
        },
        "rotate-signing-key" => println!("signing with key {}", keys::rotate(ports).await?),
        "import-hospitals" => import_hospitals(ports).await?,
        other => {
            return Err(
                format!(
                    "unknown command `{other}`: create-admin | rotate-signing-key | import-hospitals | provision"
                )
                .into(),
            );
        }
    }
    Ok(())
}

async fn import_hospitals<P: Ports>(ports: &P) -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let replace = args.iter().any(|a| a == "--replace");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .ok_or("usage: haven-admin import-hospitals FILE [--replace]")?;
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let parsed = if path.to_ascii_lowercase().ends_with(".csv") {
        import::parse_kmhfl_csv(std::io::BufReader::new(file))?
    } else {
        import::parse_json(std::io::BufReader::new(file))?
    };
    for skipped in parsed.skipped.iter().take(20) {
        eprintln!("skipped record {}: {}", skipped.record, skipped.reason);
    }
    if parsed.skipped.len() > 20 {
        eprintln!("... and {} more skipped", parsed.skipped.len() - 20);
    }
    let started = std::time::Instant::now();
    let report = import::import(ports, parsed.hospitals, replace).await?;
    println!(
        "created {}, merged {}, replaced {}, kept {} existing, skipped {} ({:.1} s)",
        report.created,
        report.merged,
        report.replaced,
        report.existing,
        parsed.skipped.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let command = std::env::args().nth(1).unwrap_or_default();
    haven_platform::block_on(async {
        if command == "provision" {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            haven_aws::provision::provision_all(&sdk, &haven_aws::AwsSettings::from_env()).await?;
            println!("provisioned");
            return Ok(());
        }
        match Backend::from_env()? {
            Backend::Embedded => run(&EmbeddedPorts::from_env()?, &command).await,
            Backend::Aws => run(&AwsPorts::from_env().await, &command).await,
        }
    })
}
