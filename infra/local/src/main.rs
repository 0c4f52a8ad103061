//! `haven-local`: the whole platform on one machine. `make dev` runs it.

use std::net::SocketAddr;
use std::sync::Arc;

use haven_domain::ports::Ports;
use haven_embedded::LocalSockets;
use haven_local::{Gateway, seed, workers};
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
        match Backend::from_env()? {
            Backend::Embedded => {
                let ports = Arc::new(EmbeddedPorts::from_env()?);
                let sockets = ports.backend.connections.clone();
                let outbox = Some(ports.backend.publisher.clone());
                start(ports, sockets, outbox, listener, demo).await
            }
            Backend::Aws => {
                // The adapter posts to this gateway's `/@connections` unless told otherwise.
                let mut settings = haven_aws::AwsSettings::from_env();
                settings
                    .websocket_endpoint
                    .get_or_insert_with(|| format!("http://{addr}"));
                let ports = Arc::new(AwsPorts::from_settings(settings).await);
                start(ports, LocalSockets::default(), None, listener, demo).await
            }
        }
    })
}

async fn start<P: Ports>(
    ports: Arc<P>,
    sockets: LocalSockets,
    sms_outbox: Option<haven_embedded::SqlitePublisher>,
    listener: tokio::net::TcpListener,
    demo: bool,
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
    let data = data_dir();
    tracing::info!(%addr, backend, data_dir = %data.display(), "haven-local listening");
    match backend {
        "embedded" => println!(
            "Haven is running at http://{addr}  (backend: embedded, data: {})",
            data.display()
        ),
        other => println!("Haven is running at http://{addr}  (backend: {other})"),
    }
    println!("  health:    http://{addr}/api/v1/health/ready");
    println!("  websocket: ws://{addr}/ws");
    if backend == "embedded" {
        println!("  texts:     http://{addr}/local/sms-outbox  (system admin token)");
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    Gateway::new(ports, sockets, sms_outbox)
        .serve(listener, shutdown)
        .await?;
    Ok(())
}
