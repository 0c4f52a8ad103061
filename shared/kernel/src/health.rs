//! Readiness: can this process reach what it needs? Checked through the ports, so the same
//! check runs on both backends.

use std::time::Instant;

use serde::Serialize;

use crate::catalogue;
use crate::item::Key;
use crate::ports::{Ports, Queue, Table};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DependencyHealth {
    pub name: String,
    pub healthy: bool,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub backend: &'static str,
    pub dependencies: Vec<DependencyHealth>,
}

/// A key no item ever has: reading it proves the table answers without touching data.
fn probe_key() -> Key {
    Key::new("HEALTH#PROBE", "HEALTH#PROBE")
}

/// Checks the table and every queue the alert path delivers through, concurrently.
pub async fn readiness<P: Ports>(ports: &P) -> Readiness {
    let table = async {
        let started = Instant::now();
        let result = ports.table().get(&probe_key()).await;
        dependency("table", started, result.err().map(|e| e.to_string()))
    };
    let queues = catalogue::QUEUES
        .iter()
        .filter(|q| q.dead_letter.is_some())
        .map(|q| async move {
            let started = Instant::now();
            let result = ports.queue().depth(q.name).await;
            dependency(
                &format!("queue:{}", q.name),
                started,
                result.err().map(|e| e.to_string()),
            )
        });
    let (table, queues) = futures::join!(table, futures::future::join_all(queues));
    let mut dependencies = vec![table];
    dependencies.extend(queues);
    Readiness {
        ready: dependencies.iter().all(|d| d.healthy),
        backend: ports.backend_name(),
        dependencies,
    }
}

fn dependency(name: &str, started: Instant, error: Option<String>) -> DependencyHealth {
    DependencyHealth {
        name: name.to_owned(),
        healthy: error.is_none(),
        latency_ms: started.elapsed().as_millis() as u64,
        detail: error,
    }
}
