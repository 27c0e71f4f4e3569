//! The protocol's event log: what the parameter server and the workers did, in order. Printed
//! with `--trace`, written to `events.csv`; tests read it too.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Worker `worker` registered with the server (at start, and again after a failure).
    Register,
    /// Worker `worker` received weight version `version`.
    Pull,
    /// Worker `worker`'s gradient from `version` arrived at the server.
    Push,
    /// Worker `worker` died (simulated failure).
    Fail,
    /// The server declared worker `worker` dead: a heartbeat it expected did not come in time.
    Dead,
    /// A partition moved to another worker (`detail` says which).
    Reassign,
    /// A gradient was dropped (`detail` says why); it is counted in `summary.json`.
    Discard,
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

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub seq: u64,
    /// Simulated time, seconds.
    pub time_s: f64,
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
        let worker = self.worker.unwrap_or(0);
        let what = match self.kind {
            EventKind::Register => format!("worker {worker} registered"),
            EventKind::Pull => format!("worker {worker} pulled v{}", self.version),
            EventKind::Push => format!("worker {worker} pushed its gradient from v{}", self.version),
            EventKind::Fail => format!("worker {worker} failed"),
            EventKind::Dead => format!("server declared worker {worker} dead"),
            EventKind::Reassign => "partition reassigned".to_string(),
            EventKind::Discard => format!("gradient of worker {worker} from v{} discarded", self.version),
            EventKind::Publish => format!("publish v{}", self.version),
            EventKind::Compute => {
                format!("worker {worker} computed gradient from v{}", self.version)
            }
            EventKind::Aggregate => format!("aggregate gradients of v{}", self.version),
            EventKind::Update => format!("update v{} -> v{}", self.version, self.version + 1),
            EventKind::Release => format!("release v{}", self.version),
        };
        write!(f, "[{:>12.6} s | round {:>4}] {what}", self.time_s, self.epoch)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// Append-only log. With a sink (`--trace`: stdout or a file) each event is also written there
/// as it happens; a failed write is kept and reported by [`EventLog::flush_sink`].
#[derive(Default)]
pub struct EventLog {
    events: Vec<Event>,
    sink: Option<Box<dyn std::io::Write>>,
    sink_error: Option<std::io::Error>,
}

impl fmt::Debug for EventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLog").field("events", &self.events.len()).field("sink", &self.sink.is_some()).finish()
    }
}

impl EventLog {
    /// A log that only records.
    pub fn new() -> Self {
        Self::default()
    }

    /// A log that also writes every event, one line each, to `sink`.
    pub fn with_sink(sink: Box<dyn std::io::Write>) -> Self {
        Self { sink: Some(sink), ..Self::default() }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        time_s: f64,
        epoch: u32,
        kind: EventKind,
        version: u64,
        worker: Option<usize>,
        detail: impl Into<String>,
    ) {
        let e = Event { seq: self.events.len() as u64, time_s, epoch, kind, version, worker, detail: detail.into() };
        if let (Some(sink), None) = (self.sink.as_mut(), self.sink_error.as_ref()) {
            if let Err(err) = writeln!(sink, "{e}") {
                self.sink_error = Some(err);
            }
        }
        self.events.push(e);
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Replaces the events (a resumed run continues its checkpoint's log); the sink sees only
    /// events pushed from now on.
    pub fn restore(&mut self, events: Vec<Event>) {
        self.events = events;
    }

    pub fn into_events(self) -> Vec<Event> {
        self.events
    }

    /// Flushes the sink; the first write error, if any.
    pub fn flush_sink(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.sink_error.take() {
            return Err(e);
        }
        self.sink.as_mut().map_or(Ok(()), |s| s.flush())
    }
}
