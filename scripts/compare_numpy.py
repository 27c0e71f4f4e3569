#!/usr/bin/env python3
"""Times Kipf's GCN training step in NumPy/SciPy and in gcnsim's CPU backend, in one run.

The step is the same model and the same work on both sides: Cora (Planetoid split), features
row-normalized and kept sparse, Â = D^-1/2 (A + I) D^-1/2, two layers (16 hidden), dropout 0.5
on both layer inputs (sparse dropout on X), softmax cross-entropy over the 140 training nodes,
backward, weight decay 5e-4 on the first layer, Adam (lr 0.01). No evaluation pass on either side.

NumPy runs on one thread (BLAS pinned to 1; SciPy's sparse products are single-threaded anyway),
gcnsim on the threads given (default: every core). Both report the median over the timed steps
after one warm-up step, in alternating rounds (the median of the rounds' medians); gcnsim's
figure comes from `gcnsim bench --step`.

Needs numpy and scipy (pip install numpy scipy) only to run the comparison; the project never
needs Python to build or test. Usage:

    cargo build --release
    GCNSIM_DATA_DIR=../shared/datasets python3 scripts/compare_numpy.py [--steps 500] \
        [--threads N] [--csv results/bench/numpy_compare.csv --tag "machine"]
"""

import argparse
import csv
import gzip
import os
import subprocess
import sys
import tempfile
import time

# Pin BLAS before NumPy loads it.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sp  # noqa: E402


def read_csv_gz(path, dtype):
    with gzip.open(path, "rt") as f:
        return np.loadtxt(f, delimiter=",", dtype=dtype, ndmin=2)


def load_cora(root):
    raw = os.path.join(root, "raw")
    edges = read_csv_gz(os.path.join(raw, "edge.csv.gz"), np.int64)
    features = read_csv_gz(os.path.join(raw, "node-feat.csv.gz"), np.float32)
    labels = read_csv_gz(os.path.join(raw, "node-label.csv.gz"), np.int64).ravel()
    train = read_csv_gz(os.path.join(root, "split", "planetoid", "train.csv.gz"), np.int64).ravel()
    n = features.shape[0]
    a = sp.coo_matrix((np.ones(len(edges), np.float32), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    a = ((a + a.T) > 0).astype(np.float32)
    a.setdiag(0)
    a.eliminate_zeros()
    a = a + sp.eye(n, dtype=np.float32, format="csr")
    d = np.asarray(a.sum(axis=1)).ravel()
    inv_sqrt = sp.diags((1.0 / np.sqrt(d)).astype(np.float32))
    a_hat = (inv_sqrt @ a @ inv_sqrt).tocsr().astype(np.float32)
    row_sums = features.sum(axis=1, keepdims=True)
    features = np.divide(features, row_sums, out=np.zeros_like(features), where=row_sums != 0)
    return a_hat, sp.csr_matrix(features), labels, train


def glorot(rng, fan_in, fan_out):
    r = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-r, r, (fan_in, fan_out)).astype(np.float32)


class NumpyGcn:
    """Kipf's two-layer GCN with a hand-written backward pass and TensorFlow-style Adam."""

    def __init__(self, a_hat, x, labels, train, hidden=16, dropout=0.5, lr=0.01, weight_decay=5e-4, seed=0):
        self.a_hat, self.a_hat_t = a_hat, a_hat.T.tocsr()
        self.x = x
        self.train = train
        classes = int(labels.max()) + 1
        self.onehot = np.zeros((len(train), classes), np.float32)
        self.onehot[np.arange(len(train)), labels[train]] = 1.0
        self.rng = np.random.default_rng(seed)
        self.w = [glorot(self.rng, x.shape[1], hidden), glorot(self.rng, hidden, classes)]
        self.m = [np.zeros_like(w) for w in self.w]
        self.v = [np.zeros_like(w) for w in self.w]
        self.decay = [weight_decay, 0.0]
        self.dropout, self.lr, self.t = dropout, lr, 0

    def step(self):
        keep, scale = 1.0 - self.dropout, np.float32(1.0 / (1.0 - self.dropout))
        # Layer 0: sparse dropout on X's stored values, then Â · (X_d · W0).
        x_d = self.x.copy()
        x_d.data *= (self.rng.random(x_d.nnz) < keep) * scale
        z0 = self.a_hat @ (x_d @ self.w[0])
        h = np.maximum(z0, 0.0)
        mask1 = (self.rng.random(h.shape) < keep).astype(np.float32) * scale
        h_d = h * mask1
        z1 = self.a_hat @ (h_d @ self.w[1])
        # Softmax cross-entropy over the training nodes (mean).
        logits = z1[self.train]
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(p[self.onehot > 0]))
        dz1 = np.zeros_like(z1)
        dz1[self.train] = (p - self.onehot) / len(self.train)
        # Backward.
        d_support1 = self.a_hat_t @ dz1
        g1 = h_d.T @ d_support1
        dh = (d_support1 @ self.w[1].T) * mask1
        dz0 = dh * (z0 > 0)
        d_support0 = self.a_hat_t @ dz0
        g0 = np.asarray(x_d.T @ d_support0)
        # Adam (TensorFlow's form, as Kipf's code), weight decay added to the gradient.
        self.t += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        lr_t = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for l, g in enumerate((g0, g1)):
            if self.decay[l]:
                g = g + self.decay[l] * self.w[l]
            self.m[l] = b1 * self.m[l] + (1 - b1) * g
            self.v[l] = b2 * self.v[l] + (1 - b2) * g * g
            self.w[l] = (self.w[l] - lr_t * self.m[l] / (np.sqrt(self.v[l]) + eps)).astype(np.float32)
        return loss


def time_numpy(data, steps):
    gcn = NumpyGcn(*data)
    times = []
    loss = None
    for _ in range(steps + 1):
        started = time.perf_counter()
        loss = gcn.step()
        times.append((time.perf_counter() - started) * 1e3)
    return float(np.median(times[1:])), float(loss)


def time_gcnsim(binary, steps, threads):
    with tempfile.TemporaryDirectory() as out:
        cmd = [binary]
        if threads:
            cmd += ["--threads", str(threads)]
        cmd += ["bench", "--step", "--dataset", "cora", "--backends", "cpu", "--epochs", str(steps), "--out", out]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "bench.csv")) as f:
            row = next(csv.DictReader(f))
    return float(row["ms_per_epoch_median"]), int(row["threads"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500, help="timed training steps on each side")
    parser.add_argument("--threads", type=int, default=0, help="gcnsim's --threads (0: every core)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating measurements of each side")
    parser.add_argument("--binary", default="target/release/gcnsim")
    parser.add_argument("--csv", help="append the measurement to this CSV (header once)")
    parser.add_argument("--tag", default="", help="free text stored with the CSV row (e.g. the machine)")
    args = parser.parse_args()
    data_dir = os.environ.get("GCNSIM_DATA_DIR")
    if not data_dir:
        sys.exit("set GCNSIM_DATA_DIR to the folder that holds cora/")
    data = load_cora(os.path.join(data_dir, "cora"))
    # Alternate the two, so that a slow spell of a shared machine hits both alike; report the
    # median over the rounds of each side's median.
    numpy_runs, gcnsim_runs = [], []
    for _ in range(args.rounds):
        numpy_runs.append(time_numpy(data, args.steps))
        gcnsim_runs.append(time_gcnsim(args.binary, args.steps, args.threads))
    numpy_ms = float(np.median([ms for ms, _ in numpy_runs]))
    gcnsim_ms = float(np.median([ms for ms, _ in gcnsim_runs]))
    loss, threads = numpy_runs[-1][1], gcnsim_runs[-1][1]
    each = ", ".join(f"{n:.2f}/{g:.2f}" for (n, _), (g, _) in zip(numpy_runs, gcnsim_runs))
    print(f"NumPy/SciPy (1 thread):     {numpy_ms:8.3f} ms/step (last loss {loss:.3f})")
    print(f"gcnsim cpu ({threads} thread{'s' if threads != 1 else ''}):      {gcnsim_ms:8.3f} ms/step")
    print(f"  medians of {args.steps} steps per round, NumPy/gcnsim by round: {each}")
    print(f"gcnsim is {numpy_ms / gcnsim_ms:.2f}x the NumPy speed")
    if args.csv:
        row = {
            "tag": args.tag,
            "steps": args.steps,
            "rounds": args.rounds,
            "numpy_ms_per_step": f"{numpy_ms:.4f}",
            "gcnsim_threads": threads,
            "gcnsim_ms_per_step": f"{gcnsim_ms:.4f}",
            "speedup": f"{numpy_ms / gcnsim_ms:.3f}",
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        }
        new_file = not os.path.exists(args.csv) or os.path.getsize(args.csv) == 0
        with open(args.csv, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new_file:
                w.writeheader()
            w.writerow(row)


if __name__ == "__main__":
    main()
