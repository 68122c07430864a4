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
  --mode finetune: (c) one value-and-gradient of reward backpropagation through the sampler (the
      workload of bench/finetune.ts, rewardiff's src/finetune/chain.ts): a frozen copy of the network
      as the reference, DDPM ("small" variance, trailing spacing) with `steps` steps, `chains` chains,
      x_s = mu_theta(x_t) + sigma_t z_t with z fixed per draw, the final sigma = 0 step with the
      reference mean, loss = -mean r(x_0) + sum_t mean |mu_theta - mu_ref|^2 / (2 sigma_t^2),
      r(x) = x_1 + 0.5 x_2; torch.autograd.grad w.r.t. every trainable weight, loss read with .item().
  --mode train / --mode sample: (a) alone / (b) alone (e.g. sampling 10,000 points: "samples":10000).

Usage:  /usr/bin/python3 bench/torch_reference.py --config '{"inDim":20,"hidden":256,"depth":3,
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
    "inDim": 20,  # x (2) + 18-dim sinusoidal time embedding (as bench/lib.ts DEFAULT_BENCH_CONFIG)
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
    # --mode finetune
    "chains": 128,
    "finetuneWarmup": 1,
    "finetuneRepeats": 5,
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
    # Debian's netlib reference BLAS (libblas3) loaded beside OpenBLAS still provides sgemm when the
    # libblas.so.3 alternative points at it.
    reference = [p for p in libs if os.path.basename(p).startswith("libblas") and not any(k in os.path.realpath(p) for k in ("openblas", "mkl", "blis"))]
    if reference:
        info["reference"] = reference[0]
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


def require_optimised_blas(torch):
    """Refuses to measure on the reference BLAS: Debian's python3-torch links libblas.so.3, which is netlib's
    unless an optimised one (libopenblas0-pthread) is installed; netlib's matmul is ~20x slower, so a ratio
    against it would flatter rewardiff."""
    torch.ones(64, 64) @ torch.ones(64, 64)  # loads the BLAS library
    reference = blas_info().get("reference")
    if reference:
        raise SystemExit(f"torch runs on the reference BLAS ({reference}), not an optimised one; install Debian's libopenblas0-pthread (bench/README.md)")


def environment(torch):
    """The torch / Python / BLAS versions and thread settings every result records."""
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "blas": blas_info(),
        "threads": {
            "torch": torch.get_num_threads(),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
    }


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
    ap.add_argument("--mode", default="train-sample", choices=["train-sample", "train", "sample", "finetune"], help="what to measure")
    args = ap.parse_args()
    cfg = dict(DEFAULTS)
    cfg.update(json.loads(args.config))

    import torch  # imported here so that a missing torch gives a clear message below

    torch.set_num_threads(1)
    require_optimised_blas(torch)
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

    if args.mode == "finetune":
        finetune(cfg, torch, net, embed, out_dim, T)
        return

    # ---- (a) training step (skipped by --mode sample) ----
    do_train, do_sample = args.mode != "sample", args.mode != "train"
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
    part = (wall0, cpu0, jif0)  # start of the current part, for its own load
    train_all = []
    for i in range(int(cfg["trainWarmup"]) + int(cfg["trainRepeats"]) if do_train else 0):
        t0 = time.perf_counter()
        train_step()
        dt = (time.perf_counter() - t0) * 1000.0
        if i >= int(cfg["trainWarmup"]):
            train_all.append(dt)

    train_load = load_since(*part) if do_train else None
    part = (time.perf_counter(), time.process_time(), machine_jiffies())

    # ---- (b) DDIM sampling, eta = 0 (skipped by --mode train) ----
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
    for i in range(int(cfg["sampleWarmup"]) + int(cfg["sampleRepeats"]) if do_sample else 0):
        t0 = time.perf_counter()
        sample()
        dt = (time.perf_counter() - t0) * 1000.0
        if i >= int(cfg["sampleWarmup"]):
            sample_all.append(dt)

    sample_load = load_since(*part) if do_sample else None
    wall, cpu, jif1 = time.perf_counter() - wall0, time.process_time() - cpu0, machine_jiffies()
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    machine = (jif1[0] - jif0[0]) / (jif1[1] - jif0[1]) * ncpu if jif0 and jif1 and jif1[1] > jif0[1] else float("nan")
    out = {
        **environment(torch),
        "config": cfg,
        "mode": args.mode,
        **({"trainStepMs": statistics.median(train_all), "trainStepMsAll": [round(v, 4) for v in train_all]} if do_train else {}),
        **({"sampleMs": statistics.median(sample_all), "sampleMsAll": [round(v, 3) for v in sample_all]} if do_sample else {}),
        # Mean CPU use over the measurements, in cores: this process (all its threads), the whole
        # machine, and everything else (other processes: high values make the timings unreliable).
        "load": {
            "selfCores": round(cpu / wall, 2),
            "machineCores": round(machine, 2),
            "otherCores": round(max(0.0, machine - cpu / wall), 2),
        },
        "measureMs": round(wall * 1000.0, 1),
        # The same, over each part alone (a short burst of contention during one part is not averaged away).
        **({"trainLoad": train_load} if train_load else {}),
        **({"sampleLoad": sample_load} if sample_load else {}),
    }
    sys.stdout.write(json.dumps(out) + "\n")


def load_since(wall0, cpu0, jif0):
    """CPU use (cores) since (wall0, cpu0, jif0): this process, the whole machine, everything else."""
    wall, cpu, jif1 = time.perf_counter() - wall0, time.process_time() - cpu0, machine_jiffies()
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    machine = (jif1[0] - jif0[0]) / (jif1[1] - jif0[1]) * ncpu if jif0 and jif1 and jif1[1] > jif0[1] else float("nan")
    return {"selfCores": round(cpu / wall, 2), "machineCores": round(machine, 2), "otherCores": round(max(0.0, machine - cpu / wall), 2)}


def ddpm_plan(T, steps):
    """rewardiff's ddpmPlan: linear betas 1e-4..0.02, trailing spacing round(T - k T/S) - 1 (half to
    even, as Python's round), posterior ("small") variance. Rows (t, s, abar_t, cX0, cXt, sigma)."""
    betas = [1e-4 + (0.02 - 1e-4) * i / (T - 1) for i in range(T)] if T > 1 else [1e-4]
    abar, a = [], 1.0
    for b in betas:
        a *= 1.0 - b
        abar.append(a)
    ts = [int(round(T - k * T / steps)) - 1 for k in range(steps)]
    rows = []
    for k, t in enumerate(ts):
        s = ts[k + 1] if k + 1 < len(ts) else -1
        at, as_ = abar[t], (abar[s] if s >= 0 else 1.0)
        ap = at / as_
        bp = 1.0 - ap
        sigma2 = (1.0 - as_) / (1.0 - at) * bp
        rows.append((t, s, at, math.sqrt(as_) * bp / (1.0 - at), math.sqrt(ap) * (1.0 - as_) / (1.0 - at), math.sqrt(max(0.0, sigma2))))
    return rows


def finetune(cfg, torch, net, embed, out_dim, T):
    """(c) reward backpropagation through the DDPM chain; prints one JSON line."""
    import copy

    ref = copy.deepcopy(net)
    for q in ref.parameters():
        q.requires_grad_(False)

    def eps_of(m, x, s):
        return m(torch.cat([x, embed(s)], dim=1))

    plan = ddpm_plan(T, int(cfg["steps"]))
    n = int(cfg["chains"])
    params = [q for q in net.parameters() if q.requires_grad]
    gen = torch.Generator().manual_seed(cfg["seed"] + 2)
    b = torch.tensor([1.0, 0.5])

    def value_and_grad():
        x = torch.randn(n, out_dim, generator=gen)
        zs = torch.randn(len(plan), n, out_dim, generator=gen)
        kl = torch.zeros(())
        for k, (t, _s, at, c_x0, c_xt, sigma) in enumerate(plan):
            tt = torch.full((n,), t / T, dtype=torch.float32)
            sa, s1a = math.sqrt(at), math.sqrt(1.0 - at)

            def mean(eps, xt):
                return c_x0 * ((xt - s1a * eps) / sa) + c_xt * xt

            mu_ref = mean(eps_of(ref, x, tt), x)
            if sigma > 0:
                mu = mean(eps_of(net, x, tt), x)
                kl = kl + torch.mean(torch.sum((mu - mu_ref) ** 2, dim=1)) / (2.0 * sigma * sigma)
                x = mu + sigma * zs[k]
            else:
                x = mu_ref  # the final deterministic step: the reference mean, no KL (chain.ts planRows)
        loss = -torch.mean(x @ b) + kl
        grads = torch.autograd.grad(loss, params)
        return loss.item(), grads

    wall0, cpu0, jif0 = time.perf_counter(), time.process_time(), machine_jiffies()
    all_ms, last = [], float("nan")
    for i in range(int(cfg["finetuneWarmup"]) + int(cfg["finetuneRepeats"])):
        t0 = time.perf_counter()
        last, _g = value_and_grad()
        dt = (time.perf_counter() - t0) * 1000.0
        if i >= int(cfg["finetuneWarmup"]):
            all_ms.append(dt)
    wall, cpu, jif1 = time.perf_counter() - wall0, time.process_time() - cpu0, machine_jiffies()
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    machine = (jif1[0] - jif0[0]) / (jif1[1] - jif0[1]) * ncpu if jif0 and jif1 and jif1[1] > jif0[1] else float("nan")
    srt = sorted(all_ms)

    def q(p):
        pos = (len(srt) - 1) * p
        lo, hi = math.floor(pos), math.ceil(pos)
        return srt[lo] + (srt[hi] - srt[lo]) * (pos - lo)

    out = {
        "mode": "finetune",
        **environment(torch),
        "config": cfg,
        "timesteps": [r[0] for r in plan],
        "gradMs": statistics.median(all_ms),
        "gradMsAll": [round(v, 3) for v in all_ms],
        "gradMsP10": q(0.1),
        "gradMsP90": q(0.9),
        "lastLoss": last,
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
