//! `haven-admin`: one-off operations on a deployment, on the backend `HAVEN_BACKEND` names
//! (on AWS: run with the stack's environment, see docs/identity.md, "First admin"). On the
//! embedded backend it opens the database in `HAVEN_DATA_DIR` (default `.haven`), resolved as
//! the gateway resolves it, and says which file that is and whether a running gateway serves
//! it. `haven-admin help` lists the commands; nothing is opened or created before a command
//! is recognised.

use haven_alerts::hospitals::import;
use haven_identity_core::keys;
use haven_kernel::ports::Ports;
use haven_local::running;
use haven_platform::{AwsPorts, Backend, EmbeddedPorts, data_dir};

const USAGE: &str = "\
haven-admin: one-off operations on a Haven deployment

usage: haven-admin COMMAND [ARGS]

commands:
  create-admin                     the first system admin (HAVEN_ADMIN_EMAIL, HAVEN_ADMIN_PASSWORD;
                                   a generated password is printed once)
  rotate-signing-key               sign new tokens with a new key; the old one keeps verifying
  import-hospitals FILE [--replace]
                                   load hospitals from a KMHFL CSV export (.csv) or Haven's JSON
                                   (.json, an array of profiles). A row that is a hospital Haven
                                   has (same id, KMHFL code, or name at the same place) is merged
                                   into it and keeps its live capacity and channels; --replace
                                   lets the file's profile win
  provision                        (AWS backend, off AWS) create the table, queues, topics and key
                                   as template.yaml does, e.g. on moto's server
  help                             this text (also --help, -h)

environment:
  HAVEN_BACKEND    embedded (default) or aws
  HAVEN_DATA_DIR   the embedded backend's folder (default .haven, relative to the working
                   directory), the same variable `make dev` reads
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Help,
    CreateAdmin,
    RotateSigningKey,
    ImportHospitals,
    Provision,
}

impl Command {
    fn parse(word: Option<&str>) -> Result<Self, String> {
        match word {
            None | Some("help" | "--help" | "-h") => Ok(Command::Help),
            Some("create-admin") => Ok(Command::CreateAdmin),
            Some("rotate-signing-key") => Ok(Command::RotateSigningKey),
            Some("import-hospitals") => Ok(Command::ImportHospitals),
            Some("provision") => Ok(Command::Provision),
            Some(other) => Err(format!(
                "unknown command `{other}`; nothing was changed. `haven-admin help` lists the commands"
            )),
        }
    }
}

async fn run<P: Ports>(
    ports: &P,
    command: Command,
    args: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::CreateAdmin => match haven_local::admin::bootstrap_from_env(ports).await? {
            Some((email, Some(password))) => {
                println!("created system admin {email} with password {password} (shown once)")
            }
            Some((email, None)) => {
                println!("system admin {email} exists or was created with the given password")
            }
            None => {}
        },
        Command::RotateSigningKey => println!("signing with key {}", keys::rotate(ports).await?),
        Command::ImportHospitals => import_hospitals(ports, args).await?,
        Command::Help | Command::Provision => {}
    }
    Ok(())
}

/// The file to import and whether to replace, checked before any backend is opened.
fn import_args(args: &[String]) -> Result<(String, bool), String> {
    let replace = args.iter().any(|a| a == "--replace");
    if let Some(flag) = args
        .iter()
        .find(|a| a.starts_with("--") && *a != "--replace")
    {
        return Err(format!(
            "unknown option `{flag}`; usage: haven-admin import-hospitals FILE [--replace]"
        ));
    }
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .ok_or("usage: haven-admin import-hospitals FILE [--replace]")?;
    if !std::path::Path::new(path).is_file() {
        return Err(format!("{path}: no such file"));
    }
    Ok((path.clone(), replace))
}

async fn import_hospitals<P: Ports>(
    ports: &P,
    args: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    let (path, replace) = import_args(args)?;
    let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = Command::parse(args.first().map(String::as_str))?;
    if command == Command::Help {
        print!("{USAGE}");
        return Ok(());
    }
    let rest = &args[1..];
    if command == Command::ImportHospitals {
        import_args(rest)?;
    }
    haven_platform::block_on(async {
        if command == Command::Provision {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            haven_aws::provision::provision_all(&sdk, &haven_aws::AwsSettings::from_env()).await?;
            println!("provisioned");
            return Ok(());
        }
        match Backend::from_env()? {
            Backend::Embedded => {
                let dir = running::absolute(&data_dir());
                let database = dir.join(haven_embedded::DATABASE_FILE);
                let state = if database.is_file() {
                    "existing"
                } else {
                    "new"
                };
                eprintln!(
                    "database: {} ({state}); {}",
                    database.display(),
                    running::hint_for(&dir, &running::list())
                );
                run(&EmbeddedPorts::in_dir(dir)?, command, rest).await
            }
            Backend::Aws => run(&AwsPorts::from_env().await, command, rest).await,
        }
    })
}
