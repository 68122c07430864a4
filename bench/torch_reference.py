#!/usr/bin/python3
"""A fair PyTorch reference for rewardiff's benchmarks (see bench/README.md).

Run by the system Python (torch 1.13 from Debian's python3-torch). The launcher (bench/lib.ts,
runTorchReference) sets the BLAS environment before Python starts: OPENBLAS_NUM_THREADS=2 and,
only when /proc/cpuinfo lists avx512f, OPENBLAS_CORETYPE=SKYLAKEX. This script pins torch's own
intra-op pool to 1 thread (torch.set_num_threads(1)) so that OpenBLAS's 2 threads are the only
parallelism, and reports what it sees.

Workload (identical to bench/raw-jax.ts):
  network  eps_theta(x, t) = MLP(concat(x, emb(t/T))): inDim -> hidden x depth (SiLU) -> outDim,
           x has outDim components, emb is the (inDim - outDim)-dim sinusoidal embedding below.
  (a) one training step: forward on a batch, MSE loss against a target, backward, Adam(1e-3).
  (b) DDIM sampling, eta = 0: `samples` points x `steps` steps on the linear-beta schedule
      (T = 1000, beta 1e-4 .. 0.02), timesteps floor(i * T / steps), i = steps-1 .. 0.

Usage:  /usr/bin/python3 bench/torch_reference.py --config '{"inDim":18,"hidden":256,"depth":3,
          "outDim":2,"batch":512,"samples":1000,"steps":50}'
Prints ONE JSON line on stdout.
"""
import argparse
import ctypes
import ctypes.util
import json
import math
import os
import platform
import statistics
import sys
import time

DEFAULTS = {
    "inDim": 18,  # x (2) + 16-dim sinusoidal time embedding
    "hidden": 256,
    "depth": 3,  # hidden layers: inDim -> 256 -> 256 -> 256 -> outDim
    "outDim": 2,
    "batch": 512,
    "samples": 1000,
    "steps": 50,
    "T": 1000,
    "trainWarmup": 10,
    "trainRepeats": 50,
    "sampleWarmup": 1,
    "sampleRepeats": 5,
    "seed": 0,
}


def blas_info():
    """What BLAS torch actually runs on: the loaded library and, for OpenBLAS, its own report."""
    libs = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if ("blas" in path or "mkl" in path) and path not in libs:
                    libs.append(path)
    except OSError:
        pass
    info = {"libraries": libs}
    for path in libs:
        if "openblas" not in path:
            continue
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            info["name"] = "OpenBLAS"
            info["config"] = lib.openblas_get_config().decode()
            info["corename"] = lib.openblas_get_corename().decode()
            info["threads"] = lib.openblas_get_num_threads()
            break
        except (OSError, AttributeError):
            continue
    if "name" not in info:
        if any("mkl" in p for p in libs):
            info["name"] = "MKL"
        elif any("blas" in p for p in libs):
            info["name"] = "reference or other BLAS (" + os.path.basename(libs[0]) + ")"
        else:
            info["name"] = "unknown"
    return info


def machine_jiffies():
    """(busy, total) CPU jiffies of the whole machine from /proc/stat (steal counts as busy)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
        return sum(fields) - fields[3] - fields[4], sum(fields)
    except (OSError, ValueError, IndexError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="{}", help="JSON object overriding the defaults")
    args = ap.parse_args()
    cfg = dict(DEFAULTS)
    cfg.update(json.loads(args.config))

    import torch  # imported here so that a missing torch gives a clear message below

    torch.set_num_threads(1)
    torch.manual_seed(cfg["seed"])

    in_dim, hidden, depth, out_dim = int(cfg["inDim"]), int(cfg["hidden"]), int(cfg["depth"]), int(cfg["outDim"])
    emb_dim = in_dim - out_dim
    if emb_dim < 0:
        raise SystemExit("inDim must be at least outDim (x has outDim components)")
    T = int(cfg["T"])
    half = emb_dim // 2
    # As rewardiff's src/nn/embeddings.ts: omega_k = 10000^(-k / (half - 1)), k = 0..half-1, applied to
    # the time on the DDPM scale, 1000 * t/T.
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / max(half - 1, 1))

    def embed(s):
        """s: [B] times in [0, 1] -> [B, emb_dim] = [sin(1000 s f), cos(1000 s f), (0 if odd)]."""
        arg = (s * 1000.0)[:, None] * freqs[None, :]
        parts = [torch.sin(arg), torch.cos(arg)]
        if emb_dim % 2:
            parts.append(torch.zeros(s.shape[0], 1))
        return torch.cat(parts, dim=1)

    layers = []
    sizes = [in_dim] + [hidden] * depth + [out_dim]
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.SiLU())
    net = torch.nn.Sequential(*layers)

    def eps_model(x, s):
        return net(torch.cat([x, embed(s)], dim=1))

    # ---- (a) training step ----
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    B = int(cfg["batch"])
    gen = torch.Generator().manual_seed(cfg["seed"] + 1)
    x_host = torch.rand(B, out_dim, generator=gen).numpy()
    s_host = torch.rand(B, generator=gen).numpy()
    y_host = torch.randn(B, out_dim, generator=gen).numpy()

    def train_step():
        # Host arrays are wrapped each step, as the TS side uploads a batch each step.
        x = torch.from_numpy(x_host)
        s = torch.from_numpy(s_host)
        y = torch.from_numpy(y_host)
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((eps_model(x, s) - y) ** 2)
        loss.backward()
        opt.step()
        return loss.item()

    wall0, cpu0, jif0 = time.perf_counter(), time.process_time(), machine_jiffies()
    train_all = []
    for i in range(int(cfg["trainWarmup"]) + int(cfg["trainRepeats"])):
        t0 = time.perf_counter()
        train_step()
        dt = (time.perf_counter() - t0) * 1000.0
        if i >= int(cfg["trainWarmup"]):
            train_all.append(dt)

    # ---- (b) DDIM sampling, eta = 0 ----
    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    abar = torch.cumprod(1.0 - betas, dim=0)
    steps = int(cfg["steps"])
    ts = [(i * T) // steps for i in range(steps)]
    N = int(cfg["samples"])

    @torch.no_grad()
    def sample():
        x = torch.randn(N, out_dim, generator=gen)
        for i in reversed(range(steps)):
            t = ts[i]
            a_t = float(abar[t])
            a_prev = float(abar[ts[i - 1]]) if i > 0 else 1.0
            s = torch.full((N,), t / T, dtype=torch.float32)
            eps = eps_model(x, s)
            x0 = (x - math.sqrt(1.0 - a_t) * eps) / math.sqrt(a_t)
            x = math.sqrt(a_prev) * x0 + math.sqrt(1.0 - a_prev) * eps
        return x.numpy().copy()

    sample_all = []
    for i in range(int(cfg["sampleWarmup"]) + int(cfg["sampleRepeats"])):
        t0 = time.perf_counter()
        sample()
        dt = (time.perf_counter() - t0) * 1000.0
        if i >= int(cfg["sampleWarmup"]):
            sample_all.append(dt)

    wall, cpu, jif1 = time.perf_counter() - wall0, time.process_time() - cpu0, machine_jiffies()
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    machine = (jif1[0] - jif0[0]) / (jif1[1] - jif0[1]) * ncpu if jif0 and jif1 and jif1[1] > jif0[1] else float("nan")
    out = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "blas": blas_info(),
        "threads": {
            "torch": torch.get_num_threads(),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
        "config": cfg,
        "trainStepMs": statistics.median(train_all),
        "trainStepMsAll": [round(v, 4) for v in train_all],
        "sampleMs": statistics.median(sample_all),
        "sampleMsAll": [round(v, 3) for v in sample_all],
        # Mean CPU use over both measurements, in cores: this process (all its threads), the whole
        # machine, and everything else (other processes: high values make the timings unreliable).
        "load": {
            "selfCores": round(cpu / wall, 2),
            "machineCores": round(machine, 2),
            "otherCores": round(max(0.0, machine - cpu / wall), 2),
        },
        "measureMs": round(wall * 1000.0, 1),
    }
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
