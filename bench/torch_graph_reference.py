#!/usr/bin/python3
"""The PyTorch reference of bench/graph-step.ts: one training step of the graph transformer denoiser.

Run by the system Python (torch 1.13 from Debian's python3-torch) with the fair set-up of design.md
("A fair PyTorch reference"): the launcher (bench/graph-step.ts) sets OPENBLAS_NUM_THREADS=2 and, only when
/proc/cpuinfo lists avx512f, OPENBLAS_CORETYPE=SKYLAKEX; this script pins torch.set_num_threads(1).

The model is rewardiff's src/nn/denoisers/graph-transformer.ts, layer for layer (same widths, same
parameter count, printed as "params"): node stream d_h, edge stream d_e, H heads, pre-norm layers of
edge-biased attention, node MLP (d_h -> 2 d_h -> d_h), edge update u_ij = LN(e)_ij + p_i + p_j + r_i * r_j
and edge MLP (d_e -> 2 d_e -> d_e); time through the sinusoidal embedding of src/nn/embeddings.ts and
c = SiLU(W_c emb(t)); outputs LN + linear, edges symmetrised.
The step (as bench/graph-step.ts): t ~ U{0..T-1}, z ~ N(0, I) of the rows' shape, the graph noise hook
(src/diffusion/graph-noise.ts: nodes unchanged, edges (z + z^T)/2 with a zero diagonal),
x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps, loss = mean (eps_hat - eps)^2, backward, Adam(1e-3).

Usage:  /usr/bin/python3 bench/torch_graph_reference.py --config '{"batch":128}'
Prints ONE JSON line on stdout.
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

from torch_reference import machine_jiffies  # (busy, total) jiffies from /proc/stat; same folder

DEFAULTS = {
    "maxNodes": 9,
    "nodeBlocks": [5, 3],
    "edgeFeatures": 4,
    "hidden": 96,
    "edgeHidden": 48,
    "heads": 8,
    "layers": 4,
    "timeEmbedding": 32,
    "batch": 128,
    "T": 1000,
    "warmup": 3,
    "repeats": 10,
    "seed": 0,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="{}", help="JSON object overriding the defaults")
    args = ap.parse_args()
    cfg = dict(DEFAULTS)
    cfg.update(json.loads(args.config))

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(1)
    torch.manual_seed(cfg["seed"])

    n, blocks, E = int(cfg["maxNodes"]), [int(b) for b in cfg["nodeBlocks"]], int(cfg["edgeFeatures"])
    Fn = sum(blocks)
    dh, de, H, L, temb = int(cfg["hidden"]), int(cfg["edgeHidden"]), int(cfg["heads"]), int(cfg["layers"]), int(cfg["timeEmbedding"])
    d = dh // H
    D = n * Fn + n * n * E
    B, T = int(cfg["batch"]), int(cfg["T"])

    half = temb // 2
    freqs = torch.tensor([math.exp(-math.log(10000.0) * k / max(half - 1, 1)) for k in range(half)], dtype=torch.float32)

    def time_embedding(t):
        a = t[:, None] * freqs[None, :]
        return torch.cat([torch.sin(a), torch.cos(a)], -1)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn_norm, self.edge_norm = nn.LayerNorm(dh), nn.LayerNorm(de)
            self.qkv, self.bias, self.attn_out = nn.Linear(dh, 3 * dh), nn.Linear(de, H), nn.Linear(dh, dh)
            self.mlp_norm, self.mlp1, self.mlp2 = nn.LayerNorm(dh), nn.Linear(dh, 2 * dh), nn.Linear(2 * dh, dh)
            self.pair_norm, self.pair = nn.LayerNorm(dh), nn.Linear(dh, 2 * de)
            self.edge1, self.edge2 = nn.Linear(de, 2 * de), nn.Linear(2 * de, de)

        def forward(self, h, e):
            N = h.shape[0]
            q, k, v = self.qkv(self.attn_norm(h)).chunk(3, -1)
            eh = self.edge_norm(e)
            logits = torch.einsum("nihd,njhd->nijh", q.view(N, n, H, d), k.view(N, n, H, d)) / math.sqrt(d) + self.bias(eh)
            att = logits.softmax(2)
            o = torch.einsum("nijh,njhd->nihd", att, v.view(N, n, H, d)).reshape(N, n, dh)
            h = h + self.attn_out(o)
            h = h + self.mlp2(F.silu(self.mlp1(self.mlp_norm(h))))
            p, r = self.pair(self.pair_norm(h)).chunk(2, -1)
            u = eh + p[:, :, None] + p[:, None] + r[:, :, None] * r[:, None]
            e = e + self.edge2(F.silu(self.edge1(u)))
            return h, e

    class GraphTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.cond, self.node_in, self.edge_in, self.edge_cond = nn.Linear(temb, dh), nn.Linear(Fn, dh), nn.Linear(E, de), nn.Linear(dh, de)
            self.layers = nn.ModuleList([Layer() for _ in range(L)])
            self.node_norm, self.node_out = nn.LayerNorm(dh), nn.Linear(dh, Fn)
            self.edge_norm, self.edge_out = nn.LayerNorm(de), nn.Linear(de, E)

        def forward(self, x, t):
            N = x.shape[0]
            parts = list(torch.split(x, [n * b for b in blocks] + [n * n * E], 1))
            edges = parts.pop().view(N, n, n, E)
            nodes = torch.cat([p.view(N, n, b) for p, b in zip(parts, blocks)], -1)
            c = F.silu(self.cond(time_embedding(t)))
            h = self.node_in(nodes) + c[:, None]
            e = self.edge_in(edges) + self.edge_cond(c)[:, None, None]
            for layer in self.layers:
                h, e = layer(h, e)
            xn = self.node_out(self.node_norm(h))
            o = self.edge_out(self.edge_norm(e))
            o = (o + o.transpose(1, 2)) / 2
            outs = [p.reshape(N, -1) for p in torch.split(xn, blocks, -1)]
            return torch.cat(outs + [o.reshape(N, -1)], 1)

    off_diag = (1.0 - torch.eye(n))[None, :, :, None] * 0.5

    def graph_noise(z):
        N = z.shape[0]
        nodes, edges = z[:, : n * Fn], z[:, n * Fn:].view(N, n, n, E)
        sym = (edges + edges.transpose(1, 2)) * off_diag
        return torch.cat([nodes, sym.reshape(N, -1)], 1)

    net = GraphTransformer()
    params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    alpha_bars = torch.cumprod(1 - betas, 0).float()
    gen = torch.Generator().manual_seed(cfg["seed"])
    x0 = (torch.rand(B, D, generator=gen) < 0.2).float()

    def step():
        t = torch.randint(0, T, (B,), generator=gen)
        eps = graph_noise(torch.randn(B, D, generator=gen))
        ab = alpha_bars[t][:, None]
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        out = net(xt, t.float() * (1000.0 / T))
        loss = torch.mean((out - eps) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    c0, w0, j0 = time.process_time(), time.perf_counter(), machine_jiffies()
    times, last = [], float("nan")
    for i in range(int(cfg["warmup"]) + int(cfg["repeats"])):
        t0 = time.perf_counter()
        last = step()
        if i >= int(cfg["warmup"]):
            times.append((time.perf_counter() - t0) * 1000.0)
    wall, cpu, j1 = time.perf_counter() - w0, time.process_time() - c0, machine_jiffies()
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    machine = (j1[0] - j0[0]) / (j1[1] - j0[1]) * ncpu if j0 and j1 and j1[1] > j0[1] else float("nan")
    out = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": {
            "torch": torch.get_num_threads(),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        },
        "config": cfg,
        "params": params,
        "stepMs": statistics.median(times),
        "stepMsAll": [round(v, 2) for v in times],
        "lastLoss": last,
        "selfCores": round(cpu / wall, 2),
        "loadavg": list(os.getloadavg()),
        # Mean CPU use over the timed part, in cores: this process, the whole machine, everything else.
        "load": {
            "selfCores": round(cpu / wall, 2),
            "machineCores": round(machine, 2),
            "otherCores": round(max(0.0, machine - cpu / wall), 2),
        },
    }
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
