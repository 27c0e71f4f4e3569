//! The roofline: a kernel takes `launch_latency + max(flops / peak_flops, bytes / mem_bandwidth)`.
//!
//! [`KernelCost`] (in `backend`, beside the ops it counts) gives the work of each backend op from
//! the shapes it runs; the time of a sequence of kernels is the sum of their
//! [`DeviceProfile::kernel_time`]s.

use super::device::DeviceProfile;
pub use crate::backend::kernel_cost::KernelCost;
use crate::backend::Work;

impl DeviceProfile {
    /// Seconds for one kernel: its launch plus the slower of compute and memory traffic.
    pub fn kernel_time(&self, cost: &KernelCost) -> f64 {
        self.launch_latency + (cost.flops / self.peak_flops).max(cost.bytes / self.mem_bandwidth)
    }

    /// Seconds for one kernel of a class: at the class's calibrated rates where the profile has
    /// them, else [`Self::kernel_time`].
    pub fn work_time(&self, work: &Work) -> f64 {
        match self.kernels.get(&work.class) {
            Some(rates) => rates.time(work),
            None => self.kernel_time(&work.cost),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative tolerance for closed forms evaluated in a different order: a few f64 roundings.
    const REL: f64 = 1e-12;

    fn close(got: f64, want: f64) -> bool {
        (got - want).abs() <= REL * want.abs().max(got.abs())
    }

    /// 1 GFLOP/s, 1 GB/s, 1 µs launch: times in seconds are FLOPs or bytes / 1e9.
    fn toy() -> DeviceProfile {
        DeviceProfile::roofline("toy", 1e9, 1e9, 1e-6)
    }

    #[test]
    fn spmm_counts_and_is_memory_bound_on_a_balanced_device() {
        // 1000 × 500 CSR with 5000 entries times a 500 × 16 dense matrix.
        let c = KernelCost::spmm(1000, 500, 5000, 16);
        assert_eq!(c.flops, 160_000.0); // 2 · 5000 · 16
                                        // row_ptr 1001·4 + (col_idx, values) 5000·8 + gathered x 5000·16·4 + out 1000·16·4
        assert_eq!(c.bytes, 4004.0 + 40_000.0 + 320_000.0 + 64_000.0);
        // Memory-bound: 428,004 B / 1e9 B/s > 160,000 FLOP / 1e9 FLOP/s.
        assert!(close(toy().kernel_time(&c), 1e-6 + 428_004e-9));
    }

    #[test]
    fn matmul_counts_and_is_compute_bound_on_a_balanced_device() {
        let c = KernelCost::matmul(1000, 64, 32);
        assert_eq!(c.flops, 4_096_000.0); // 2 · 1000 · 64 · 32
        assert_eq!(c.bytes, (64_000.0 + 2048.0 + 32_000.0) * 4.0);
        assert!(close(toy().kernel_time(&c), 1e-6 + 4_096_000e-9));
        // The same kernel on a device with 100× the FLOP/s is memory-bound.
        let fast = DeviceProfile { peak_flops: 1e11, ..toy() };
        assert!(close(fast.kernel_time(&c), 1e-6 + 392_192e-9));
    }

    #[test]
    fn elementwise_ops_and_sums() {
        // Adam: param, grad, m, v in; param, m, v out; 14 FLOPs. SGD: 2 in, 1 out, 4 FLOPs.
        let adam = crate::backend::AdamStep { lr_t: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 };
        let adam = crate::backend::OptimizerStep::Adam(adam);
        assert_eq!(KernelCost::optimizer_step(10, &adam), KernelCost { flops: 140.0, bytes: 280.0 });
        let sgd = crate::backend::OptimizerStep::Sgd { lr: 0.1, weight_decay: 0.0 };
        assert_eq!(KernelCost::optimizer_step(10, &sgd), KernelCost { flops: 40.0, bytes: 120.0 });
        assert_eq!(KernelCost::relu_backward(10), KernelCost { flops: 10.0, bytes: 120.0 });
        assert_eq!(KernelCost::dropout(2, 5), KernelCost { flops: 10.0, bytes: 88.0 });
        assert_eq!(KernelCost::weighted_sum(3, 10), KernelCost { flops: 50.0, bytes: (30.0 + 3.0 + 10.0) * 4.0 });
        assert_eq!(
            KernelCost::softmax_xent(10, 7, true),
            KernelCost { flops: 10.0 * 57.0, bytes: 280.0 + 80.0 + 280.0 + 36.0 }
        );
        let total: KernelCost = [KernelCost::relu(4), KernelCost::copy(4)].into_iter().sum();
        assert_eq!(total, KernelCost { flops: 4.0, bytes: 64.0 });
    }

    /// GAT's head and edge ops, counted by hand on small shapes.
    #[test]
    fn head_and_edge_costs_count_by_hand() {
        assert_eq!(KernelCost::elu(10), KernelCost { flops: 30.0, bytes: 80.0 });
        assert_eq!(KernelCost::elu_backward(10), KernelCost { flops: 30.0, bytes: 120.0 });
        // 5 rows, 2 heads of 3: x 30 + att 6 + s 10 floats; 2·30 FLOPs.
        assert_eq!(KernelCost::head_dot(5, 2, 3), KernelCost { flops: 60.0, bytes: 46.0 * 4.0 });
        // x, dx in, dx out (3·30) + ds 10 + att, d_att (2·6); 4·30 FLOPs.
        assert_eq!(KernelCost::head_dot_backward(5, 2, 3), KernelCost { flops: 120.0, bytes: 112.0 * 4.0 });
        // 4 rows, 7 entries, 2 heads: row_ptr 5, values 7, perm 7, x 14, out 8.
        assert_eq!(KernelCost::edge_row_sum(4, 7, 2, true), KernelCost { flops: 14.0, bytes: 41.0 * 4.0 });
        assert_eq!(KernelCost::edge_row_sum(4, 7, 2, false), KernelCost { flops: 14.0, bytes: 34.0 * 4.0 });
        // 4 rows, 7 entries, 2 heads of 3: row_ptr 5, (col, value) 14, gathered x 42, d_out 24,
        // d_alpha 14; 2·7·6 FLOPs.
        let d_alpha = KernelCost::attention_spmm_backward_alpha(4, 7, 2, 3);
        assert_eq!(d_alpha, KernelCost { flops: 84.0, bytes: 99.0 * 4.0 });
    }
}
