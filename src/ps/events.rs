//! The protocol's event log: what the parameter server and the workers did, in order. Printed
//! with `--trace`, written to `events.csv`; tests read it too.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The PS uploaded weight version `version` for the workers.
    Publish,
    /// Worker `worker` computed its gradient from `version`.
    Compute,
    /// The barrier for `version` closed and the gradients were reduced.
    Aggregate,
    /// The optimizer turned `version` into `version + 1`.
    Update,
    /// The buffers of `version` were destroyed.
    Release,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    pub seq: u64,
    pub epoch: u32,
    pub kind: EventKind,
    pub version: u64,
    /// The worker, for `Compute`.
    pub worker: Option<usize>,
    /// Free text: counts, bytes.
    pub detail: String,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            EventKind::Publish => format!("publish v{}", self.version),
            EventKind::Compute => {
                format!("worker {} computed gradient from v{}", self.worker.unwrap_or(0), self.version)
            }
            EventKind::Aggregate => format!("aggregate gradients of v{}", self.version),
            EventKind::Update => format!("update v{} -> v{}", self.version, self.version + 1),
            EventKind::Release => format!("release v{}", self.version),
        };
        write!(f, "[epoch {:>4}] {what}", self.epoch)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// Append-only log; `echo` prints each event as it happens.
#[derive(Debug, Default)]
pub struct EventLog {
    events: Vec<Event>,
    pub echo: bool,
}

impl EventLog {
    pub fn new(echo: bool) -> Self {
        Self { events: Vec::new(), echo }
    }

    pub fn push(
        &mut self,
        epoch: u32,
        kind: EventKind,
        version: u64,
        worker: Option<usize>,
        detail: impl Into<String>,
    ) {
        let e = Event { seq: self.events.len() as u64, epoch, kind, version, worker, detail: detail.into() };
        if self.echo {
            eprintln!("{e}");
        }
        self.events.push(e);
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }
}
