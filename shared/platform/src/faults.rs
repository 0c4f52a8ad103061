//! Faults on purpose, for tests and drills: the same ports with one part broken, to show
//! that the alert path survives it.

use std::collections::BTreeMap;

use haven_alerts::comms::CommsSettings;
use haven_kernel::ProcessCache;
use haven_kernel::ports::{Ports, PublishError, Publisher};
use haven_kernel::{Clock, IdGenerator};

/// A publisher whose topic and SMS are down.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownPublisher;

impl Publisher for DownPublisher {
    async fn publish(
        &self,
        _topic: &str,
        _message: &str,
        _attributes: &BTreeMap<String, String>,
    ) -> Result<String, PublishError> {
        Err(PublishError::Unavailable(
            "the topic is down (fault injected)".into(),
        ))
    }
    async fn send_sms(&self, _phone: &str, _text: &str) -> Result<String, PublishError> {
        Err(PublishError::Unavailable(
            "SMS is down (fault injected)".into(),
        ))
    }
}

/// `P` with its publisher down: an alert stored with it is a crash between "stored" and
/// "published", as far as the pipeline can tell.
pub struct PublisherDown<P>(pub P);

impl<P: Ports> Ports for PublisherDown<P> {
    type Table = P::Table;
    type Queue = P::Queue;
    type Publisher = DownPublisher;
    type KeyRing = P::KeyRing;
    type Connections = P::Connections;
    type Webhooks = P::Webhooks;
    type Routing = P::Routing;
    type Blobs = P::Blobs;

    fn table(&self) -> &Self::Table {
        self.0.table()
    }
    fn queue(&self) -> &Self::Queue {
        self.0.queue()
    }
    fn publisher(&self) -> &DownPublisher {
        &DownPublisher
    }
    fn key_ring(&self) -> &Self::KeyRing {
        self.0.key_ring()
    }
    fn connections(&self) -> &Self::Connections {
        self.0.connections()
    }
    fn webhooks(&self) -> &Self::Webhooks {
        self.0.webhooks()
    }
    fn routing(&self) -> &Self::Routing {
        self.0.routing()
    }
    fn blobs(&self) -> &Self::Blobs {
        self.0.blobs()
    }
    fn comms(&self) -> &CommsSettings {
        self.0.comms()
    }
    fn clock(&self) -> &dyn Clock {
        self.0.clock()
    }
    fn ids(&self) -> &dyn IdGenerator {
        self.0.ids()
    }
    fn cache(&self) -> &ProcessCache {
        self.0.cache()
    }
    fn backend_name(&self) -> &'static str {
        "publisher down"
    }
}
