//! One training run as a [`BackendTask`]: what `train`, `run` and `bench` all execute.

use super::{EpochRecord, Problem, RunConfig, RunOutcome};
use crate::backend::{Backend, BackendTask};
use crate::ps::{Event, EventLog};

/// Everything one run produced.
pub struct TrainedRun {
    pub backend: String,
    pub records: Vec<EpochRecord>,
    pub outcome: RunOutcome,
    pub events: Vec<Event>,
}

/// One training run on the chosen backend. `log` receives the protocol events (and echoes them
/// when it has a sink); `on_epoch` sees every record as it is made (progress, traces).
pub struct TrainTask<'a> {
    pub problem: &'a Problem,
    pub config: &'a RunConfig,
    pub log: EventLog,
    pub on_epoch: &'a mut dyn FnMut(&EpochRecord),
    /// Checkpoints to write, a state to resume from.
    pub persistence: super::checkpoint::Persistence,
}

impl BackendTask for TrainTask<'_> {
    type Output = TrainedRun;

    fn run<B: Backend>(mut self, b: &B) -> anyhow::Result<TrainedRun> {
        let persistence = std::mem::take(&mut self.persistence);
        let (records, outcome) =
            super::run_persistent(b, self.problem, self.config, &mut self.log, self.on_epoch, persistence)?;
        self.log.flush_sink()?;
        Ok(TrainedRun { backend: crate::backend::label(b), records, outcome, events: self.log.into_events() })
    }
}
