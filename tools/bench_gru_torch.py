#!/usr/bin/env python3
"""bench_gru_torch.py: the PyTorch side of `animat bench gru`.

One GRU update on the same shapes as animat's benchmark: forward over T x B (time-major) from a
zero initial state, backward of sum(y * dy) (so the gradient of the outputs is dy, as in the C
benchmark) including the gradient of the input, and one Adam step. Tried at 1 and 2 intra-op
threads; prints each and a final line "best_ms X" that the C benchmark parses.
"""
import argparse
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--in", dest="inp", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--T", type=int, default=32)
    ap.add_argument("--B", type=int, default=64)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    torch.manual_seed(1)
    best = float("inf")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        gru = torch.nn.GRU(a.inp, a.hidden)
        opt = torch.optim.Adam(gru.parameters(), lr=1e-4)
        x = (torch.rand(a.T, a.B, a.inp) * 2 - 1).requires_grad_(True)
        h0 = torch.zeros(1, a.B, a.hidden)
        dy = (torch.rand(a.T, a.B, a.hidden) * 2 - 1) * 1e-3
        t_best = float("inf")
        for r in range(a.rounds + 1):  # round 0 warms up
            t0 = time.perf_counter()
            for _ in range(a.reps):
                opt.zero_grad(set_to_none=False)
                x.grad = None
                y, _ = gru(x, h0)
                (y * dy).sum().backward()
                opt.step()
            dt = (time.perf_counter() - t0) / a.reps
            if r > 0:
                t_best = min(t_best, dt)
        print(f"PyTorch {torch.__version__} ({threads} thread{'s' if threads > 1 else ''}): "
              f"{t_best * 1e3:.3f} ms/update")
        best = min(best, t_best)
    print(f"best_ms {best * 1e3:.6f}")


if __name__ == "__main__":
    main()
