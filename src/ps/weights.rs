//! The versioned weight store. The PS owns a master copy that the optimizer updates; each epoch
//! it publishes a new version (a fresh set of device buffers the workers read) and releases the
//! previous one, like Spark's `broadcast.unpersist`. With `keep_versions` nothing is released,
//! which shows the leak in the memory curves.
//!
//! Under relaxed consistency workers read older versions: each read is registered
//! ([`WeightStore::acquire`]) until the worker's gradient is pushed or discarded, and
//! [`WeightStore::release_unread`] frees every version that is neither the newest nor read.

use std::collections::VecDeque;

use crate::backend::snapshot::{download_all, overwrite_all, RestoreError};
use crate::backend::{Backend, BackendError, MemCategory, Shape};
use crate::tensor::HostMatrix;

/// A store's contents between two rounds (a checkpoint's copy).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoreState {
    pub master: Vec<HostMatrix>,
    /// Every live version, oldest first.
    pub versions: Vec<(u64, Vec<HostMatrix>)>,
    pub next_version: u64,
}

pub struct WeightStore<B: Backend> {
    master: Vec<B::Matrix>,
    published: VecDeque<(u64, Vec<B::Matrix>)>,
    keep_versions: bool,
    next_version: u64,
    /// Workers computing from each version.
    readers: std::collections::BTreeMap<u64, usize>,
}

impl<B: Backend> WeightStore<B> {
    pub fn new(b: &B, initial: &[HostMatrix], keep_versions: bool) -> Result<Self, BackendError> {
        let master = initial
            .iter()
            .enumerate()
            .map(|(l, w)| b.upload(w, MemCategory::Weights, &format!("ps/master/W{l}")))
            .collect::<Result<_, _>>()?;
        Ok(Self { master, published: VecDeque::new(), keep_versions, next_version: 0, readers: Default::default() })
    }

    /// The optimizer's view.
    pub fn master_mut(&mut self) -> &mut [B::Matrix] {
        &mut self.master
    }

    pub fn master(&self) -> &[B::Matrix] {
        &self.master
    }

    /// Copies the master weights into a new version's buffers; returns the version.
    pub fn publish(&mut self, b: &B) -> Result<u64, BackendError> {
        let v = self.next_version;
        let mut set = Vec::with_capacity(self.master.len());
        for (l, m) in self.master.iter().enumerate() {
            let mut copy = b.alloc(m.rows(), m.cols(), MemCategory::Weights, &format!("ps/v{v}/W{l}"))?;
            b.copy(m, &mut copy);
            set.push(copy);
        }
        self.published.push_back((v, set));
        self.next_version += 1;
        Ok(v)
    }

    /// The newest published version and its weights.
    pub fn current(&self) -> (u64, &[B::Matrix]) {
        let (v, w) = self.published.back().expect("publish before reading weights");
        (*v, w)
    }

    /// Destroys the buffers of every version older than `keep_from` (unless `keep_versions`).
    /// Returns the versions released.
    pub fn release_older_than(&mut self, keep_from: u64) -> Vec<u64> {
        let mut released = Vec::new();
        if self.keep_versions {
            return released;
        }
        while self.published.front().is_some_and(|(v, _)| *v < keep_from) {
            let (v, _buffers) = self.published.pop_front().expect("checked non-empty");
            released.push(v);
        }
        released
    }

    /// The weights of a live version.
    pub fn weights(&self, version: u64) -> Option<&[B::Matrix]> {
        self.published.iter().find(|(v, _)| *v == version).map(|(_, w)| w.as_slice())
    }

    /// A worker starts computing from `version` (which must be live).
    pub fn acquire(&mut self, version: u64) {
        assert!(self.weights(version).is_some(), "acquire: version {version} is not live");
        *self.readers.entry(version).or_default() += 1;
    }

    /// A worker computing from `version` pushed or discarded its gradient.
    pub fn release_reader(&mut self, version: u64) {
        let n = self.readers.get_mut(&version).expect("release_reader: the version has no readers");
        *n -= 1;
        if *n == 0 {
            self.readers.remove(&version);
        }
    }

    /// Destroys every version that is neither the newest nor read by a worker (unless
    /// `keep_versions`). Returns the versions released.
    pub fn release_unread(&mut self) -> Vec<u64> {
        if self.keep_versions {
            return Vec::new();
        }
        let newest = self.next_version.wrapping_sub(1);
        let mut released = Vec::new();
        self.published.retain(|(v, _)| {
            let keep = *v == newest || self.readers.contains_key(v);
            if !keep {
                released.push(*v);
            }
            keep
        });
        released
    }

    /// Versions whose buffers are alive.
    pub fn live_versions(&self) -> Vec<u64> {
        self.published.iter().map(|(v, _)| *v).collect()
    }

    /// The master weights and every live version, on the host. Between rounds nobody reads a
    /// version (the caller makes sure), so readers are not part of the state.
    pub fn save(&self, b: &B) -> Result<StoreState, BackendError> {
        debug_assert!(self.readers.is_empty(), "a store is saved between rounds");
        Ok(StoreState {
            master: download_all(b, &self.master)?,
            versions: self
                .published
                .iter()
                .map(|(v, w)| Ok((*v, download_all(b, w)?)))
                .collect::<Result<_, BackendError>>()?,
            next_version: self.next_version,
        })
    }

    /// Replaces the master weights and the live versions by `s`'s (buffers labelled as
    /// [`Self::publish`] labels them).
    pub fn restore(&mut self, b: &B, s: &StoreState) -> Result<(), RestoreError> {
        overwrite_all(b, &mut self.master, &s.master, "master weights")?;
        self.published.clear();
        for (v, set) in &s.versions {
            if set.len() != self.master.len() {
                let what = format!("weight version {v}");
                return Err(RestoreError::Count { what, expected: self.master.len(), got: set.len() });
            }
            let mut bufs = Vec::with_capacity(set.len());
            for (l, (w, m)) in set.iter().zip(&self.master).enumerate() {
                let mut copy = b.alloc(m.rows(), m.cols(), MemCategory::Weights, &format!("ps/v{v}/W{l}"))?;
                crate::backend::snapshot::overwrite(b, &mut copy, w, &format!("weight version {v}, layer {l}"))?;
                bufs.push(copy);
            }
            self.published.push_back((*v, bufs));
        }
        self.next_version = s.next_version;
        self.readers.clear();
        Ok(())
    }

    /// Bytes of one weight set.
    pub fn set_bytes(&self) -> u64 {
        self.master.iter().map(|m| 4 * m.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;

    #[test]
    fn release_keeps_one_version_and_keep_versions_leaks() {
        let b = CpuBackend::new();
        let w = vec![HostMatrix::zeros(3, 2)];
        for keep in [false, true] {
            let mut s = WeightStore::new(&b, &w, keep).unwrap();
            for epoch in 0..5 {
                let v = s.publish(&b).unwrap();
                s.release_older_than(v);
                let live_versions = b.memory().snapshot().live(MemCategory::Weights) / s.set_bytes() - 1;
                assert_eq!(live_versions, if keep { epoch + 1 } else { 1 });
            }
            assert_eq!(s.current().0, 4);
        }
    }

    #[test]
    fn read_versions_stay_until_their_last_reader_is_done() {
        let b = CpuBackend::new();
        let mut s = WeightStore::new(&b, &[HostMatrix::zeros(2, 2)], false).unwrap();
        let v0 = s.publish(&b).unwrap();
        s.acquire(v0);
        s.acquire(v0);
        let v1 = s.publish(&b).unwrap();
        s.acquire(v1);
        let v2 = s.publish(&b).unwrap();
        assert_eq!(s.release_unread(), Vec::<u64>::new());
        s.release_reader(v1);
        assert_eq!(s.release_unread(), vec![v1], "v1 is unread, v0 still has readers, v2 is the newest");
        s.release_reader(v0);
        assert_eq!(s.live_versions(), vec![v0, v2]);
        s.release_reader(v0);
        assert_eq!(s.release_unread(), vec![v0]);
        assert_eq!(s.live_versions(), vec![v2]);
        assert!(s.weights(v2).is_some() && s.weights(v0).is_none());
    }
}
