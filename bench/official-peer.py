#!/usr/bin/python3
"""Times the OFFICIAL PyTorch HART text-to-image generation on CPU (float32), as a peer for HART.js.

The official code (github.com/mit-han-lab/hart) is imported at run time from --hart-src; nothing of
it is copied here. The text encoder is left out: a seeded random context stands in for the Qwen2
hidden states. What is timed per repeat is one whole `HARTForT2I.autoregressive_infer_cfg` call
(all transformer scales with CFG, the residual diffusion at the last scale, the VQ decode to
pixels) under torch.inference_mode(), batch 1.

Setup (Debian packages only; no pip):
    apt-get install -y python3-torch libopenblas0-pthread     # torch for /usr/bin/python3
    apt-get install -y python3-scipy                          # optional (a stub is used otherwise)
  The official source, from the session's `fetch` tool (source github:mit-han-lab/hart, which
  answers with a bare git dir such as /work/.mirror/mit-han-lab+hart/repo):
    G=/work/.mirror/mit-han-lab+hart/repo
    mkdir -p /tmp/hart-official-src
    git --git-dir=$G archive HEAD | tar -x -C /tmp/hart-official-src
    git --git-dir=$G rev-parse HEAD > /tmp/hart-official-src/.official-commit
  (tested at commit e28a41fe15025baf3d48ab004f5d3727c88d8fc7, the fixture's snapshot).

Usage:
    nice -n 19 /usr/bin/python3 bench/official-peer.py --hart-src /tmp/hart-official-src \\
        --checkpoint /work/shared/fixtures/hart-parity-tiny --threads 1 --repeats 1
    /usr/bin/python3 bench/official-peer.py --hart-src /tmp/hart-official-src \\
        --checkpoint /tmp/hart-official-full --size 512 --threads 8
  --checkpoint DIR   official layout: DIR/llm/{config.json, ema_model.bin and/or model.safetensors
                     (or pytorch_model.bin)}, DIR/tokenizer/{config.json, model.safetensors}
                     (bench/make-official-checkpoint.py writes the full-size one)
  --size 256|512|1024  image size. The official code has no size switch: the resolution is
                     entirely `config.patch_nums` (latent side = patch_nums[-1], image = 16x that).
                     The lists are the ones of VAR's train.py `--pn 256|512|1024` (HART's training
                     code is unreleased; its HARTForT2IConfig default is the 256 list and the
                     released hart-0.7b-1024px uses the 1024 list). Given, it replaces the llm
                     config's patch_nums before the model is built; omitted, the checkpoint's own
                     patch_nums are used (the tiny fixture: 128 px).
  --threads N        torch.set_num_threads(N)            --repeats N (default 3)  --warmup N (0)
  --cfg 4.5  --seed 1  --more-smooth / --no-more-smooth (default on, as sample.py: the Gumbel path)
  --diffusion-steps N  override config num_sampling_steps (default: the config's, "8" as released)
  --valid-tokens N   context tokens counted as valid in the mask (default round(T*140/300): 140 of 300)
  --load-style auto|sample|app  sample: AutoModel.from_pretrained(llm) then deepcopy + strict
                     load_state_dict(ema_model.bin) as sample.py; app: build the model and load
                     ema_model.bin into it (app.py). auto: sample when llm/ has a base weight file,
                     else app (the make-official-checkpoint layout has only ema_model.bin).
Progress goes to stderr; the LAST stdout line is one JSON object:
    {"size", "threads", "repeats", "seconds": [...], "median_s", "load_s", "torch_version",
     "official_commit", ...extra keys: patch_nums, cfg, seed, more_smooth, diffusion_steps, ...}

Context passed to autoregressive_infer_cfg, shaped as encode_prompts() (hart/utils/tools.py) makes it:
  label_B [1, T, D] float32 ~ N(0,1) (stand-in for Qwen2's last hidden states, all T positions incl.
  pads), context_mask [1, T] bool with the first n valid (right padding), context_position_ids
  = cumsum(mask)-1 (int64; pads repeat n-1). T, D = config context_token, context_dim (300, 1536).
  n only moves RoPE positions; it does not change the amount of work (pads are attended too).

What is patched for CPU (all at import/run time from this file; no official file is edited; none
changes the math):
  1. `hart_backend.fused_kernels` (the CUDA extension in hart/kernels) is replaced by a module whose
     `rms_norm(out, x, w, eps, use_quant=False)` writes w * (x * rsqrt(mean(x^2) + eps)), the
     formula of the official pure-PyTorch `LlamaRMSNorm` in basic_hart.py (what the CUDA kernel
     computes: float32 sum of squares / hidden + eps, rsqrt, times x, times weight). The fused RoPE
     entry points are stubs that raise: the official forward never calls them (commented out).
  2. `.cuda()` on tensors and modules returns self (the code hard-codes .cuda() in
     HARTForT2I.__init__, the last-scale mask/tokens, sample_orders and the diffusion sampler).
  3. `transformers` is replaced by a minimal stand-in (it is not packaged by Debian): PretrainedConfig
     reads config.json; PreTrainedModel.from_pretrained builds the model with torch.nn.init's
     functions turned into no-ops (as HF's no_init_weights does), loads model.safetensors or
     pytorch_model.bin with nn.Module.load_state_dict(strict=False), checks nothing is missing,
     then eval(); Auto* register/lookup by model_type. `huggingface_hub.PyTorchModelHubMixin`
     (imported, unused) is an empty class. safetensors files are read by a small reader here.
  4. `scipy.stats.truncnorm` (constructed in __init__, only sampled in training) is a stub when
     scipy is absent.
  5. Attention: flash-attn and xformers are absent/unused in float32 anyway. torch >= 2.1 uses the
     official path (F.scaled_dot_product_attention with scale=); torch < 2.0 (Debian's 1.13) has
     no SDPA so the official file's own fallback `slow_attn` runs unchanged; torch 2.0's SDPA has
     no scale= argument, so there `slow_attn` becomes softmax(q*scale @ k^T + mask) @ v (the
     official fallback's formula).
  6. Top-k: the code hard-codes k = 600 (scales < 7) / 300, which raises when the vocabulary is
     smaller (the tiny fixture has 64). Only when V < 600, k is clipped to V (k = V keeps every
     logit, i.e. no filtering); at V = 4096 nothing is wrapped.
  7. torch.load(ema_model.bin, map_location="cpu") (the release file may hold CUDA tensors).
  8. With --size, the two llm buffers derived from patch_nums (lvl_1L, attn_bias_for_masking) are
     not loaded from a checkpoint made for another size; __init__ computed them for the new size.
  Also: sample.py runs under torch.autocast("cuda", float16); here everything is float32.
  RNG: before each repeat torch/numpy/random are seeded with --seed and g_seed=--seed is passed,
  so every repeat generates the same image (numpy shuffles the maskgit order; torch's global RNG
  draws the diffusion noise; the model's own generator draws the token samples and Gumbel noise).
"""
import argparse
import contextlib
import copy
import json
import math
import os
import random
import statistics
import struct
import subprocess
import sys
import time
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# VAR train.py: --pn 256 / 512 / 1024 -> patch_nums (16x downsampling: 16, 32, 64 latent side)
SIZE_PATCH_NUMS = {
    256: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16],
    512: [1, 2, 3, 4, 6, 9, 13, 18, 24, 32],
    1024: [1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64],
}
DERIVED_BUFFERS = ("lvl_1L", "attn_bias_for_masking")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- safetensors (no library needed)
ST_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
             "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
             "U8": torch.uint8, "BOOL": torch.bool}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = ST_DTYPES[info["dtype"]]
        a, b = info["data_offsets"]
        count = (b - a) // torch.tensor([], dtype=dt).element_size()
        t = torch.frombuffer(data, dtype=dt, count=count, offset=a) if count else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"])
    return out


def read_weight_dir(path):
    """The file HF from_pretrained would pick (safetensors first), or None."""
    st, pt = os.path.join(path, "model.safetensors"), os.path.join(path, "pytorch_model.bin")
    if os.path.exists(st):
        return read_safetensors(st), st
    if os.path.exists(pt):
        return torch.load(pt, map_location="cpu"), pt
    return None, None


# ---------------------------------------------------------------- stand-ins for missing packages
_INIT_NAMES = ["uniform_", "normal_", "trunc_normal_", "constant_", "xavier_uniform_", "xavier_normal_",
               "kaiming_uniform_", "kaiming_normal_", "uniform", "normal", "xavier_uniform",
               "xavier_normal", "kaiming_uniform", "kaiming_normal", "ones_", "zeros_"]


class no_init_weights:
    """torch.nn.init functions do nothing inside (HF from_pretrained does the same): the weights are
    overwritten by the checkpoint, and a 0.7B random init would only add minutes to the load."""

    def __enter__(self):
        self.saved = {n: getattr(nn.init, n) for n in _INIT_NAMES if hasattr(nn.init, n)}
        for n in self.saved:
            setattr(nn.init, n, lambda tensor, *a, **k: tensor)

    def __exit__(self, *exc):
        for n, fn in self.saved.items():
            setattr(nn.init, n, fn)


def load_checked(model, sd, what, strict_extra=False, allow_missing=()):
    missing, unexpected = nn.Module.load_state_dict(model, sd, strict=False)
    missing = [k for k in missing if k not in allow_missing]
    if missing:
        raise RuntimeError(f"{what}: {len(missing)} tensors missing from the checkpoint "
                           f"(they would stay uninitialized): {missing[:8]}")
    if unexpected and strict_extra:
        raise RuntimeError(f"{what}: unexpected tensors {unexpected[:8]}")
    if unexpected:
        log(f"  {what}: ignored {len(unexpected)} unexpected tensors, e.g. {unexpected[:3]}")


def make_transformers_shim():
    tf = types.ModuleType("transformers")
    registry_cfg, registry_model = {}, {}

    class PretrainedConfig:
        model_type = ""

        def __init__(self, **kwargs):
            for k, v in kwargs.items():
                setattr(self, k, v)

        @classmethod
        def from_pretrained(cls, path, **overrides):
            with open(os.path.join(path, "config.json")) as f:
                d = json.load(f)
            d.update(overrides)
            cfg = cls(**d)
            cfg._name_or_path = str(path)
            return cfg

    class PreTrainedModel(nn.Module):
        config_class = None
        supports_gradient_checkpointing = False

        def __init__(self, config, *args, **kwargs):
            super().__init__()
            self.config = config
            self.gradient_checkpointing = False  # read by HARTForT2I.forward

        @classmethod
        def from_pretrained(cls, path, config=None, **kwargs):
            path = str(path)
            config = config or cls.config_class.from_pretrained(path)
            config._name_or_path = path
            with no_init_weights():
                model = cls(config)
            sd, f = read_weight_dir(path)
            if sd is None:
                raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {path}")
            load_checked(model, sd, f)
            return model.eval()

    class AutoConfig:
        @staticmethod
        def register(model_type, config_cls, exist_ok=False):
            registry_cfg[model_type] = config_cls

        @staticmethod
        def from_pretrained(path, **kw):
            with open(os.path.join(path, "config.json")) as f:
                mt = json.load(f)["model_type"]
            return registry_cfg[mt].from_pretrained(path, **kw)

    class AutoModel:
        @staticmethod
        def register(config_cls, model_cls, exist_ok=False):
            registry_model[config_cls] = model_cls

        @staticmethod
        def from_pretrained(path, config=None, **kw):
            config = config or AutoConfig.from_pretrained(path)
            return registry_model[type(config)].from_pretrained(path, config=config, **kw)

    class _Unavailable:
        def __init__(self, *a, **k):
            raise RuntimeError("not available in the official-peer benchmark (text encoder excluded)")

        from_pretrained = classmethod(lambda cls, *a, **k: cls())

    tf.PretrainedConfig, tf.PreTrainedModel = PretrainedConfig, PreTrainedModel
    tf.AutoConfig, tf.AutoModel = AutoConfig, AutoModel
    for n in ("AutoTokenizer", "AutoModelForCausalLM", "PreTrainedTokenizer", "HfArgumentParser"):
        setattr(tf, n, type(n, (_Unavailable,), {}))
    tf.set_seed = lambda s: None
    return tf


def install_cpu_shims(hart_src):
    """Import the official package from hart_src with the CPU patches of the docstring applied."""
    if not os.path.isdir(os.path.join(hart_src, "hart")):
        raise SystemExit(f"--hart-src {hart_src}: no hart/ package there")
    sys.path.insert(0, os.path.abspath(hart_src))

    sys.modules["transformers"] = make_transformers_shim()
    hub = types.ModuleType("huggingface_hub")
    hub.PyTorchModelHubMixin = type("PyTorchModelHubMixin", (), {})
    sys.modules["huggingface_hub"] = hub
    try:
        import scipy.stats  # noqa: F401  (official truncnorm, constructed but unused at inference)
    except ImportError:
        scipy = types.ModuleType("scipy")
        stats = types.ModuleType("scipy.stats")

        class truncnorm:
            def __init__(self, *a, **k):
                pass

            def rvs(self, *a, **k):
                raise RuntimeError("scipy stub: truncnorm.rvs is only used in training")

        stats.truncnorm, scipy.stats = truncnorm, stats
        sys.modules["scipy"], sys.modules["scipy.stats"] = scipy, stats

    def rms_norm(out, x, weight, eps, use_quant=False):
        if use_quant:
            raise NotImplementedError("int8 rms_norm is not used by HART inference")
        xf = x.to(torch.float32)
        var = xf.pow(2).mean(-1, keepdim=True)
        out.copy_(weight * (xf * torch.rsqrt(var + eps)).to(x.dtype))

    def unused(name):
        def f(*a, **k):
            raise NotImplementedError(f"hart_backend.fused_kernels.{name}: CUDA only, unused by the forward")
        return f

    backend = types.ModuleType("hart_backend")
    fk = types.ModuleType("hart_backend.fused_kernels")
    fk.rms_norm = rms_norm
    for n in ("fused_rope_forward_func", "fused_rope_with_pos_forward_func", "fused_rope_backward_func"):
        setattr(fk, n, unused(n))
    backend.fused_kernels = fk
    sys.modules["hart_backend"], sys.modules["hart_backend.fused_kernels"] = backend, fk

    torch.Tensor.cuda = lambda self, *a, **k: self
    nn.Module.cuda = lambda self, *a, **k: self

    import hart.modules.networks.basic_hart as basic_hart
    import hart.modules.models.transformer.hart_transformer_t2i as t2i

    tv = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2] if p.isdigit())
    if basic_hart.slow_attn is getattr(F, "scaled_dot_product_attention", None) and tv < (2, 1):
        def slow_attn(query, key, value, scale, attn_mask=None, dropout_p=0.0):
            attn = query.mul(scale) @ key.transpose(-2, -1)
            if attn_mask is not None:
                attn.add_(attn_mask)
            p = attn.softmax(dim=-1)
            return (F.dropout(p, p=dropout_p, inplace=True) if dropout_p > 0 else p) @ value
        basic_hart.slow_attn = slow_attn
    return t2i


def clip_top_k_to_vocab(t2i, V):
    """Only for vocabularies under the hard-coded k=600 (the tiny fixture): k -> min(k, V)."""
    if V >= 600:
        return False
    orig = t2i.sample_with_top_k_top_p_

    def sample(logits_BlV, top_k=0, top_p=0.0, rng=None, num_samples=1):
        return orig(logits_BlV, top_k=min(top_k, V), top_p=top_p, rng=rng, num_samples=num_samples)

    t2i.sample_with_top_k_top_p_ = sample
    return True


# ---------------------------------------------------------------- model load, context, generation
def drop_derived(model, sd):
    own = model.state_dict()
    dropped = [k for k in DERIVED_BUFFERS if k in sd and k in own and sd[k].shape != own[k].shape]
    for k in dropped:
        del sd[k]
    return dropped


def load_model(t2i, ckpt, patch_nums=None, diffusion_steps=None, style="auto"):
    """AutoModel.from_pretrained(<ckpt>/llm) + EMA weights, as sample.py / app.py. Returns (model, style)."""
    import transformers  # the stand-in

    llm = os.path.join(ckpt, "llm")
    overrides = {}
    if patch_nums is not None:
        overrides["patch_nums"] = list(patch_nums)
    if diffusion_steps is not None:
        overrides["num_sampling_steps"] = str(diffusion_steps)
    config = transformers.AutoConfig.from_pretrained(llm, **overrides)
    ema_path = os.path.join(llm, "ema_model.bin")
    base, base_file = (None, None)
    if style in ("auto", "sample"):
        base, base_file = read_weight_dir(llm)
    if style == "auto":
        style = "sample" if base is not None else "app"
    if style == "sample" and base is None:
        raise SystemExit(f"--load-style sample: no model.safetensors / pytorch_model.bin in {llm}")
    if not os.path.exists(ema_path):
        raise SystemExit(f"no {ema_path}")

    # what the stand-in's AutoModel.from_pretrained does, spelled out so that the buffers derived
    # from patch_nums can be skipped when --size changes them
    with no_init_weights():
        model = t2i.HARTForT2I(config)  # builds the VAE: HARTAutoEncoderWithDisc.from_pretrained(<ckpt>/tokenizer)
    if style == "sample":
        dropped = drop_derived(model, base)
        load_checked(model, base, base_file, allow_missing=dropped)
        del base
        model.eval()
        ema = copy.deepcopy(model)
        sd = torch.load(ema_path, map_location="cpu")
        dropped = drop_derived(ema, sd)
        if dropped:
            load_checked(ema, sd, ema_path, strict_extra=True, allow_missing=dropped)
        else:
            ema.load_state_dict(sd)  # strict, as sample.py
        del model, sd
        model = ema
    else:
        sd = torch.load(ema_path, map_location="cpu")
        dropped = drop_derived(model, sd)
        load_checked(model, sd, ema_path, strict_extra=True, allow_missing=dropped)
        del sd
    model.eval()
    return model, style


def make_context(model, seed, valid_tokens):
    T, D = model.context_token, model.context_dim
    g = torch.Generator().manual_seed(seed)
    label_B = torch.randn(1, T, D, generator=g, dtype=torch.float32)
    mask = torch.zeros(1, T, dtype=torch.bool)
    mask[:, :valid_tokens] = True
    position_ids = torch.cumsum(mask, dim=1) - 1
    return label_B, mask, position_ids


def generate(model, ctx, cfg, seed, more_smooth):
    label_B, mask, position_ids = ctx
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    with torch.inference_mode():
        return model.autoregressive_infer_cfg(
            B=label_B.size(0), label_B=label_B, cfg=cfg, g_seed=seed, more_smooth=more_smooth,
            context_position_ids=position_ids, context_mask=mask)


def official_commit(hart_src, given=None):
    if given:
        return given
    f = os.path.join(hart_src, ".official-commit")
    if os.path.exists(f):
        return open(f).read().strip()
    try:
        return subprocess.run(["git", "-C", hart_src, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except Exception:
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hart-src", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--size", type=int, choices=sorted(SIZE_PATCH_NUMS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--cfg", type=float, default=4.5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--more-smooth", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--diffusion-steps", type=int)
    ap.add_argument("--valid-tokens", type=int)
    ap.add_argument("--load-style", choices=["auto", "sample", "app"], default="auto")
    ap.add_argument("--official-commit", help="recorded in the JSON (default: <hart-src>/.official-commit or git)")
    ap.add_argument("--save-image", help="write the last image as a binary PPM (P6) here")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    t2i = install_cpu_shims(args.hart_src)

    patch_nums = SIZE_PATCH_NUMS[args.size] if args.size else None
    # the official code prints (e.g. the attention-mask shape in __init__): keep stdout for the JSON
    quiet = contextlib.redirect_stdout(sys.stderr)
    quiet.__enter__()
    t0 = time.perf_counter()
    model, style = load_model(t2i, args.checkpoint, patch_nums, args.diffusion_steps, args.load_style)
    load_s = time.perf_counter() - t0
    clipped = clip_top_k_to_vocab(t2i, model.V)
    vae = model.vae_proxy[0]
    size = model.patch_nums[-1] * vae.downsample
    T = model.context_token
    valid = args.valid_tokens if args.valid_tokens is not None else max(1, min(T, round(T * 140 / 300)))
    ctx = make_context(model, args.seed, valid)
    log(f"loaded in {load_s:.2f} s ({style} style): patch_nums {list(model.patch_nums)}, {size} px, "
        f"context {T}x{model.context_dim} ({valid} valid), V {model.V}, diffusion steps "
        f"{model.diffloss.gen_diffusion.num_timesteps}, threads {torch.get_num_threads()}"
        + (", top-k clipped to V" if clipped else ""))

    for i in range(args.warmup):
        t = time.perf_counter()
        generate(model, ctx, args.cfg, args.seed, args.more_smooth)
        log(f"warmup {i + 1}/{args.warmup}: {time.perf_counter() - t:.3f} s")
    seconds, img = [], None
    for i in range(args.repeats):
        t = time.perf_counter()
        img = generate(model, ctx, args.cfg, args.seed, args.more_smooth)
        seconds.append(time.perf_counter() - t)
        log(f"repeat {i + 1}/{args.repeats}: {seconds[-1]:.3f} s")
    if img is not None:
        log(f"image {list(img.shape)} range [{img.min().item():.4f}, {img.max().item():.4f}] "
            f"mean {img.mean().item():.4f} finite {bool(torch.isfinite(img).all())}")
        if args.save_image:
            px = (img[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy())
            with open(args.save_image, "wb") as f:
                f.write(b"P6 %d %d 255\n" % (px.shape[1], px.shape[0]) + px.tobytes())

    quiet.__exit__(None, None, None)
    print(json.dumps({
        "size": size, "threads": args.threads, "repeats": args.repeats, "seconds": seconds,
        "median_s": statistics.median(seconds) if seconds else None, "load_s": load_s,
        "torch_version": torch.__version__, "official_commit": official_commit(args.hart_src, args.official_commit),
        "patch_nums": list(model.patch_nums), "cfg": args.cfg, "seed": args.seed,
        "more_smooth": args.more_smooth, "diffusion_steps": model.diffloss.gen_diffusion.num_timesteps,
        "context": [T, model.context_dim, valid], "load_style": style, "top_k_clipped_to_vocab": clipped,
    }))


if __name__ == "__main__":
    main()
