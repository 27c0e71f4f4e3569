//! [`KernelClass`]: the families of kernels a calibrated device profile gives their own rates,
//! and [`Work`]: one kernel's class, counted cost and reused bytes, what the clock charges.
//!
//! The families follow what limits the kernel on real hardware rather than which op it is: SpMM
//! gathers scattered rows (bandwidth and cache bound), matmul reuses tiles (FLOP bound), the
//! element-wise ops stream (bandwidth bound), reductions and the server's combining rules end in
//! a tree, the optimizer reads and writes its state, GAT's edge ops walk the adjacency per head,
//! and the robust rules sort and compare whole gradients.

use std::fmt;

use super::KernelCost;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelClass {
    /// Sparse × dense products over the (normalized) adjacency.
    Spmm,
    /// Dense products: the projection `H·W`, its transposes, the Gram matrix of a robust rule.
    Matmul,
    /// One pass over a tensor: activations, dropout, copies, gathers, the loss.
    Elementwise,
    /// Sums across a tensor or across workers: squared norms, the weighted sum of gradients.
    Reduction,
    /// A parameter update with its optimizer state.
    Optimizer,
    /// GAT's per-edge and per-head kernels: scores, edge softmax, attention-weighted SpMM.
    Attention,
    /// The server's robust aggregation and pre-aggregation rules.
    Robust,
}

impl KernelClass {
    pub const ALL: [KernelClass; 7] = [
        KernelClass::Spmm,
        KernelClass::Matmul,
        KernelClass::Elementwise,
        KernelClass::Reduction,
        KernelClass::Optimizer,
        KernelClass::Attention,
        KernelClass::Robust,
    ];

    /// The name used in profile files, CSV columns and messages.
    pub fn name(self) -> &'static str {
        match self {
            KernelClass::Spmm => "spmm",
            KernelClass::Matmul => "matmul",
            KernelClass::Elementwise => "elementwise",
            KernelClass::Reduction => "reduction",
            KernelClass::Optimizer => "optimizer",
            KernelClass::Attention => "attention",
            KernelClass::Robust => "robust",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Every name, comma separated, for error messages.
    pub fn names() -> String {
        Self::ALL.map(KernelClass::name).join(", ")
    }
}

impl fmt::Display for KernelClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One kernel as the clock sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Work {
    pub class: KernelClass,
    pub cost: KernelCost,
    /// Bytes the kernel reads more than once in an order it does not control (SpMM's gathered
    /// rows of x: `cols · k · 4`); 0 when every byte is streamed once. A profile with a cache
    /// model serves the fraction of this set that fits in cache at cache bandwidth.
    pub reused_bytes: f64,
    /// The backend op (its trait method's name: `relu`, `dropout`, ...), or "" where no op is
    /// named. A calibrated profile may give an op its own rates within its class.
    pub op: &'static str,
    /// Bytes other kernels touch between two uses of this kernel's data, which compete with it
    /// for the cache: the device's live bytes when the clock charges a training kernel (an
    /// iterative loop touches all of them each round), the eviction buffer's size in a
    /// microbenchmark; 0 when unknown.
    pub context_bytes: f64,
}

impl Work {
    pub fn new(class: KernelClass, cost: KernelCost) -> Self {
        Self { class, cost, reused_bytes: 0.0, op: "", context_bytes: 0.0 }
    }

    /// `cost` gathering rows from a `rows × width` f32 matrix.
    pub fn gathering(class: KernelClass, cost: KernelCost, rows: usize, width: usize) -> Self {
        Self { class, cost, reused_bytes: rows as f64 * width as f64 * 4.0, op: "", context_bytes: 0.0 }
    }

    /// An SpMM `A (rows × cols, nnz) · x (cols × k)`: [`KernelCost::spmm`] gathering x.
    pub fn spmm(rows: usize, cols: usize, nnz: usize, k: usize) -> Self {
        Self::gathering(KernelClass::Spmm, KernelCost::spmm(rows, cols, nnz, k), cols, k).named("spmm")
    }

    /// The bytes that decide whether a cache holds the kernel's data. A kernel that gathers
    /// reads its reused set many times within itself: whether those reads hit depends on the set
    /// alone (after its first touch, what other kernels left in the cache is gone). A kernel that
    /// streams reads each byte once, as the kernel before left it: its traffic and the bytes
    /// competing with it.
    pub fn working_set(&self) -> f64 {
        if self.reused_bytes > 0.0 {
            self.reused_bytes
        } else {
            self.cost.bytes + self.context_bytes
        }
    }

    /// The same work, with `bytes` competing for the cache.
    pub fn in_context(self, bytes: f64) -> Self {
        Self { context_bytes: bytes, ..self }
    }

    /// The same work, as the op `op`.
    pub fn named(self, op: &'static str) -> Self {
        Self { op, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for class in KernelClass::ALL {
            assert_eq!(KernelClass::from_name(class.name()), Some(class));
        }
        assert_eq!(KernelClass::from_name("gemm"), None);
        let mut names: Vec<_> = KernelClass::ALL.iter().map(|c| c.name()).collect();
        names.dedup();
        assert_eq!(names.len(), KernelClass::ALL.len());
    }

    #[test]
    fn an_spmm_reuses_the_gathered_matrix() {
        let w = Work::spmm(10, 20, 50, 16);
        assert_eq!(w.class, KernelClass::Spmm);
        assert_eq!(w.reused_bytes, 20.0 * 16.0 * 4.0);
        assert_eq!(w.cost, KernelCost::spmm(10, 20, 50, 16));
    }
}
