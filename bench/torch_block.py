"""PyTorch CPU peer of bench/llama-block.ts: the same Llama-style block (RMSNorm -> qkv -> RoPE ->
softmax attention -> proj residual; RMSNorm -> SwiGLU residual; no biases), same shapes, eager
mode, timed for inference (forward under torch.inference_mode) and for one training step
(forward, y.backward(gy) with the input gradient, torch.optim.AdamW step).

Usage: python3 torch_block.py --threads 2 [--B 2 --L 1024 --C 512 --heads 8 --hidden 1536]
  --serve: read commands from stdin, one per line ("fwd N", "train N", "matmul N", "quit"), and
           answer each with one JSON line {"cmd": ..., "times": [seconds, ...]} (the bench
           interleaves these with its own measurements);
  otherwise: warm up, time --reps runs of each and print one JSON object with the medians.
"""
import argparse
import json
import math
import sys
import time

import torch


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Block(torch.nn.Module):
    def __init__(self, C, heads, hidden, L, eps=1e-6):
        super().__init__()
        self.C, self.H, self.hd, self.eps = C, heads, C // heads, eps
        self.attn_norm = torch.nn.Parameter(torch.ones(C))
        self.qkv_proj = torch.nn.Linear(C, 3 * C, bias=False)
        self.proj = torch.nn.Linear(C, C, bias=False)
        self.ffn_norm = torch.nn.Parameter(torch.ones(C))
        self.gate_proj = torch.nn.Linear(C, hidden, bias=False)
        self.up_proj = torch.nn.Linear(C, hidden, bias=False)
        self.down_proj = torch.nn.Linear(hidden, C, bias=False)
        # HF Llama 1-D RoPE, positions 0..L-1.
        inv = 1.0 / (10000 ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
        freqs = torch.outer(torch.arange(L, dtype=torch.float32), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer('cos', emb.cos(), persistent=False)
        self.register_buffer('sin', emb.sin(), persistent=False)

    def forward(self, x):
        B, L, C = x.shape
        h = rms_norm(x, self.attn_norm, self.eps)
        q, k, v = self.qkv_proj(h).view(B, L, 3, self.H, self.hd).permute(2, 0, 3, 1, 4).unbind(0)
        q = q * self.cos + rotate_half(q) * self.sin
        k = k * self.cos + rotate_half(k) * self.sin
        att = torch.softmax((q * (1.0 / math.sqrt(self.hd))) @ k.transpose(-2, -1), dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, L, C)
        x = x + self.proj(o)
        h = rms_norm(x, self.ffn_norm, self.eps)
        return x + self.down_proj(torch.nn.functional.silu(self.gate_proj(h)) * self.up_proj(h))


def openblas_core():
    """The kernel set OpenBLAS chose (None when torch is not on OpenBLAS)."""
    try:
        import ctypes
        lib = ctypes.CDLL('libopenblas.so.0')
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--B', type=int, default=2)
    ap.add_argument('--L', type=int, default=1024)
    ap.add_argument('--C', type=int, default=512)
    ap.add_argument('--heads', type=int, default=8)
    ap.add_argument('--hidden', type=int, default=1536)
    ap.add_argument('--reps', type=int, default=7)
    ap.add_argument('--serve', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    block = Block(a.C, a.heads, a.hidden, a.L)
    opt = torch.optim.AdamW(block.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)
    x = torch.randn(a.B, a.L, a.C)
    gy = torch.randn(a.B, a.L, a.C)
    xg = x.clone().requires_grad_(True)
    mm_a, mm_b = torch.randn(1024, 1024), torch.randn(1024, 1024)

    def fwd():
        with torch.inference_mode():
            block(x)

    def train():
        opt.zero_grad(set_to_none=True)
        xg.grad = None
        block(xg).backward(gy)
        opt.step()

    def matmul():
        torch.mm(mm_a, mm_b)

    cmds = {'fwd': fwd, 'train': train, 'matmul': matmul}

    def timed(fn, n):
        out = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        return out

    info = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'openblas_core': openblas_core()}
    if a.serve:
        print(json.dumps({'ready': True, **info}), flush=True)
        for line in sys.stdin:
            parts = line.split()
            if not parts or parts[0] == 'quit':
                break
            n = int(parts[1]) if len(parts) > 1 else 1
            print(json.dumps({'cmd': parts[0], 'times': timed(cmds[parts[0]], n)}), flush=True)
        return
    for fn in (fwd, train, matmul):
        timed(fn, 2)
    med = lambda v: sorted(v)[len(v) // 2]
    res = {k: timed(fn, a.reps) for k, fn in cmds.items()}
    print(json.dumps({**info, 'fwd_s': med(res['fwd']), 'train_s': med(res['train']),
                      'matmul_gflops': 2 * 1024 ** 3 / med(res['matmul']) / 1e9, 'times': res}))


if __name__ == '__main__':
    main()
