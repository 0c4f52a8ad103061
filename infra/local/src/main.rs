//! `haven-local`: the whole platform on one machine. `make dev` runs it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use haven_alerts::comms::CommsSettings;
use haven_embedded::LocalSockets;
use haven_kernel::ports::Ports;
use haven_local::{Gateway, running, seed, workers};
use haven_platform::{AwsPorts, Backend, EmbeddedPorts, data_dir};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    haven_edge::logging::init();
    haven_platform::block_on(async {
        let port: u16 = match std::env::var("PORT") {
            Ok(p) => p
                .parse()
                .map_err(|_| format!("PORT must be a port number, not {p}"))?,
            Err(_) => 3000,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let demo = std::env::var("HAVEN_DEMO")
            .map(|v| v != "0")
            .unwrap_or(true);
        // Links in texts and webhooks point where people reach this gateway: HAVEN_PUBLIC_URL,
        // else the address it listens on (PORT=0 picks a free port; that is the one used).
        let listening = format!("http://{}", listener.local_addr()?);
        let public_url = CommsSettings::public_url_from_env().unwrap_or_else(|| listening.clone());
        match Backend::from_env()? {
            Backend::Embedded => {
                let mut ports = EmbeddedPorts::from_env()?;
                ports.comms.public_base_url = public_url;
                let ports = Arc::new(ports);
                let sockets = ports.backend.connections.clone();
                let outbox = Some(ports.backend.publisher.clone());
                ports
                    .backend
                    .blobs
                    .set_base_url(&ports.comms.public_base_url);
                let blobs = Some(ports.backend.blobs.clone());
                let data = Some(running::absolute(&data_dir()));
                start(ports, sockets, (outbox, blobs), listener, demo, data).await
            }
            Backend::Aws => {
                // The adapter posts to this gateway's `/@connections` unless told otherwise.
                let mut settings = haven_aws::AwsSettings::from_env();
                settings
                    .websocket_endpoint
                    .get_or_insert_with(|| listening.clone());
                let mut ports = AwsPorts::from_settings(settings).await;
                ports.comms.public_base_url = public_url;
                start(
                    Arc::new(ports),
                    LocalSockets::default(),
                    (None, None),
                    listener,
                    demo,
                    None,
                )
                .await
            }
        }
    })
}

async fn start<P: Ports>(
    ports: Arc<P>,
    sockets: LocalSockets,
    (sms_outbox, blobs): (
        Option<haven_embedded::SqlitePublisher>,
        Option<haven_embedded::FileBlobs>,
    ),
    listener: tokio::net::TcpListener,
    demo: bool,
    data_dir: Option<PathBuf>,
) -> Result<(), Box<dyn std::error::Error>> {
    if demo {
        let loaded = seed::load_demo(ports.table(), ports.clock().now()).await?;
        if loaded > 0 {
            tracing::info!(hospitals = loaded, "demo data loaded");
        }
    }
    if let Some((email, password)) = haven_local::admin::bootstrap_from_env(ports.as_ref()).await? {
        match password {
            Some(p) => println!(
                "Created the system admin {email} with password {p}  (shown once; `make clean-data` starts over)"
            ),
            None => println!("System admin: {email}"),
        }
    }
    let _workers = workers::spawn_all(&ports, workers::Pipeline::default());
    let addr = listener.local_addr()?;
    let backend = ports.backend_name();
    let public_url = ports.comms().public_base_url.clone();
    // So `haven-admin` can tell whether it writes to the database this gateway serves.
    let _registration = running::register(running::RunningGateway {
        pid: std::process::id(),
        url: format!("http://{addr}"),
        data_dir: data_dir.clone(),
    })
    .map_err(|e| tracing::warn!(error = %e, "not registered for haven-admin"))
    .ok();
    tracing::info!(%addr, backend, public_url, "haven-local listening");
    match &data_dir {
        Some(data) => println!(
            "Haven is running at http://{addr}  (backend: embedded, data: {})",
            data.display()
        ),
        None => println!("Haven is running at http://{addr}  (backend: {backend})"),
    }
    if public_url != format!("http://{addr}") {
        println!("  links:     {public_url}  (HAVEN_PUBLIC_URL)");
    }
    println!("  health:    http://{addr}/api/v1/health/ready");
    println!("  websocket: ws://{addr}/ws");
    if backend == "embedded" {
        println!("  texts:     http://{addr}/local/sms-outbox  (system admin token)");
    }
    // Ctrl-C, or SIGTERM from a process manager or a test: finish requests in flight and
    // remove the registration.
    let shutdown = async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let terminated = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminated => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    };
    Gateway::new(ports, sockets, sms_outbox, blobs)
        .serve(listener, shutdown)
        .await?;
    Ok(())
}
