#!/usr/bin/python3
"""Writes a full-size, random-weight HART checkpoint in the official formats, for `hart bench load`.

    /usr/bin/python3 bench/make-official-checkpoint.py [OUT_DIR]     (default /tmp/hart-official-full)

  OUT_DIR/llm/config.json          HARTForT2IConfig of hart-0.7b-1024px (hart-spec §3.1)
  OUT_DIR/llm/ema_model.bin        torch.save(state_dict): 732M float32 weights, plus the buffers the
                                   official file carries (lvl_1L [1, 9750], attn_bias_for_masking
                                   [1, 1, 9750, 9750]: 380 MB) — about 3.3 GB
  OUT_DIR/tokenizer/config.json    HARTAutoEncoderWithDiscConfig (ch 160, z 32, vocab 4096, var_hybrid)
  OUT_DIR/tokenizer/model.safetensors   vae.* (the hybrid tokenizer) + disc.* (a PatchGAN) +
                                   vae.quantize.ema_vocab_hit_SV, as the official file (hart-spec §5.3)

Names and shapes follow the official state dicts (hart-spec §5.2, §5.3); values are random
(normal, std 1/sqrt(fan_in) for matrices, norms around 1), which is all a load benchmark needs.
Needs Debian's python3-torch (apt-get install -y python3-torch libopenblas0-pthread); nothing is
written inside the repository unless OUT_DIR points there.
"""
import json
import os
import struct
import sys

import torch

PATCH_NUMS = [1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64]
C, DEPTH, HEADS, T, CTX_DIM = 1536, 24, 24, 300, 1536
FFN = int((C * 4.0 * 2 / 3 + 255) // 256 * 256)  # llama mlp hidden: 4096
DIFF_W, DIFF_D = 1024, 6
V, CVAE, CH, CH_MULT = 4096, 32, 160, [1, 1, 2, 2, 4]

LLM_CONFIG = {
    "architectures": ["HARTForT2I"], "model_type": "hart_transformer_t2i", "vae_path": None,
    "context_token": T, "context_dim": CTX_DIM, "depth": DEPTH, "embed_dim": C, "num_heads": HEADS,
    "mlp_ratio": 4.0, "drop_rate": 0.0, "attn_drop_rate": 0.0, "drop_path_rate": 0.0, "norm_eps": 1e-06,
    "shared_aln": False, "cond_drop_rate": 0.1, "attn_l2_norm": False, "patch_nums": PATCH_NUMS,
    "flash_if_available": True, "fused_if_available": True, "mlp_type": "llama", "attn_type": "llama",
    "disable_aln": True, "use_timestep_embed": True, "sep_aln_pooling_mode": "max", "use_cross_attn": False,
    "diff_width": DIFF_W, "diff_depth": DIFF_D, "num_sampling_steps": "8", "diffusion_batch_mul": 4,
    "sampler": "iddpm", "use_context_norm": True, "context_norm_scale": 1.0, "diffusion_head_repeats": 1,
    "torch_dtype": "float32", "transformers_version": "4.42.2",
}

TOKENIZER_CONFIG = {
    "architectures": ["HARTAutoEncoderWithDisc"], "model_type": "hart_autoencoder_with_disc",
    "vocab_size": V, "z_channels": CVAE, "ch": CH, "dropout": 0.0, "beta": 0.25, "using_znorm": False,
    "quant_conv_ks": 3, "quant_resi": 0.5, "share_quant_resi": 4, "default_qresi_counts": 0,
    "v_patch_nums": PATCH_NUMS, "test_mode": True, "ch_mult": CH_MULT, "levels": [8, 8, 8, 6, 5],
    "quantizer_type": "var_hybrid", "hybrid": True, "disable_quant_resi": False,
    "freeze_codebook_for_hybrid": True, "double_decoder": False, "torch_dtype": "float32",
}

gen = torch.Generator().manual_seed(20241016)


def rand(*shape):
    """Matrices: normal / sqrt(fan_in); vectors named like norms: 1 + 0.02 normal; biases: 0.02 normal."""
    t = torch.empty(*shape)
    if len(shape) == 1:
        t.normal_(0.0, 0.02, generator=gen)
    else:
        fan_in = 1
        for d in shape[1:]:
            fan_in *= d
        t.normal_(0.0, fan_in ** -0.5, generator=gen)
    return t


def linear(sd, name, o, i, bias=True):
    sd[f"{name}.weight"] = rand(o, i)
    if bias:
        sd[f"{name}.bias"] = rand(o)


def norm(sd, name, c, bias=True):
    sd[f"{name}.weight"] = 1 + rand(c)
    if bias:
        sd[f"{name}.bias"] = rand(c)


def conv(sd, name, o, i, k):
    sd[f"{name}.weight"] = rand(o, i, k, k)
    sd[f"{name}.bias"] = rand(o)


def llm_state_dict():
    sd = {}
    linear(sd, "word_embed", C, CVAE)
    sd["context_norm.weight"] = 1 + rand(CTX_DIM)
    linear(sd, "context_embed", C, CTX_DIM)
    linear(sd, "lvl_embed.mlp.0", C, 256)
    linear(sd, "lvl_embed.mlp.2", C, C)
    for i in range(DEPTH):
        b = f"blocks.{i}"
        linear(sd, f"{b}.attn.qkv_proj", 3 * C, C, bias=False)
        sd[f"{b}.attn.q_bias"] = rand(C)
        sd[f"{b}.attn.v_bias"] = rand(C)
        sd[f"{b}.attn.zero_k_bias"] = torch.zeros(C)
        linear(sd, f"{b}.attn.proj", C, C)
        linear(sd, f"{b}.ffn.gate_proj", FFN, C, bias=False)
        linear(sd, f"{b}.ffn.up_proj", FFN, C, bias=False)
        linear(sd, f"{b}.ffn.down_proj", C, FFN, bias=False)
        sd[f"{b}.ln_wo_grad.weight"] = 1 + rand(C)
    sd["head_nm.ln_wo_grad.weight"] = 1 + rand(C)
    linear(sd, "head_nm.ada_lin.1", 2 * C, C)
    linear(sd, "head", V, C)
    sd["decoder_norm.weight"] = 1 + rand(C)
    d = "diffloss.net"
    linear(sd, f"{d}.time_embed.mlp.0", DIFF_W, 256)
    linear(sd, f"{d}.time_embed.mlp.2", DIFF_W, DIFF_W)
    linear(sd, f"{d}.cond_embed", DIFF_W, C)
    linear(sd, f"{d}.input_proj", DIFF_W, CVAE)
    for i in range(DIFF_D):
        r = f"{d}.res_blocks.{i}"
        norm(sd, f"{r}.in_ln", DIFF_W)
        linear(sd, f"{r}.mlp.0", DIFF_W, DIFF_W)
        linear(sd, f"{r}.mlp.2", DIFF_W, DIFF_W)
        linear(sd, f"{r}.adaLN_modulation.1", 3 * DIFF_W, DIFF_W)
    linear(sd, f"{d}.final_layer.linear", 2 * CVAE, DIFF_W)
    linear(sd, f"{d}.final_layer.adaLN_modulation.1", 2 * DIFF_W, DIFF_W)
    # persistent buffers of the official model (recomputed by HART.js, dropped by `hart convert`)
    L = sum(pn * pn for pn in PATCH_NUMS)
    S = T + L - 1
    lvl = torch.cat([torch.full((pn * pn,), float(i)) for i, pn in enumerate(PATCH_NUMS)])
    sd["lvl_1L"] = torch.cat([torch.zeros(T - 1), lvl]).view(1, S)
    sd["attn_bias_for_masking"] = torch.zeros(1, 1, S, S)  # only its size matters here
    return sd


def resnet(sd, name, cin, cout):
    norm(sd, f"{name}.norm1", cin)
    conv(sd, f"{name}.conv1", cout, cin, 3)
    norm(sd, f"{name}.norm2", cout)
    conv(sd, f"{name}.conv2", cout, cout, 3)
    if cin != cout:
        conv(sd, f"{name}.nin_shortcut", cout, cin, 1)


def attn(sd, name, c):
    norm(sd, f"{name}.norm", c)
    conv(sd, f"{name}.qkv", 3 * c, c, 1)
    conv(sd, f"{name}.proj_out", c, c, 1)


def tokenizer_state_dict():
    sd = {}
    n = len(CH_MULT)
    e = "vae.encoder"
    conv(sd, f"{e}.conv_in", CH, 3, 3)
    cin_mult = [1] + CH_MULT
    block_in = CH
    for i in range(n):
        block_in, block_out = CH * cin_mult[i], CH * CH_MULT[i]
        for b in range(2):
            resnet(sd, f"{e}.down.{i}.block.{b}", block_in, block_out)
            block_in = block_out
            if i == n - 1:
                attn(sd, f"{e}.down.{i}.attn.{b}", block_in)
        if i != n - 1:
            conv(sd, f"{e}.down.{i}.downsample.conv", block_in, block_in, 3)
    resnet(sd, f"{e}.mid.block_1", block_in, block_in)
    attn(sd, f"{e}.mid.attn_1", block_in)
    resnet(sd, f"{e}.mid.block_2", block_in, block_in)
    norm(sd, f"{e}.norm_out", block_in)
    conv(sd, f"{e}.conv_out", CVAE, block_in, 3)
    conv(sd, "vae.quant_conv", CVAE, CVAE, 3)
    conv(sd, "vae.post_quant_conv", CVAE, CVAE, 3)
    sd["vae.quantize.embedding.weight"] = torch.empty(V, CVAE).uniform_(-1 / V, 1 / V, generator=gen)
    for k in range(4):
        conv(sd, f"vae.quantize.quant_resi.qresi_ls.{k}", CVAE, CVAE, 3)
    sd["vae.quantize.ema_vocab_hit_SV"] = torch.zeros(len(PATCH_NUMS), V)
    dd = "vae.decoder"
    block_in = CH * CH_MULT[-1]
    conv(sd, f"{dd}.conv_in", block_in, CVAE, 3)
    resnet(sd, f"{dd}.mid.block_1", block_in, block_in)
    attn(sd, f"{dd}.mid.attn_1", block_in)
    resnet(sd, f"{dd}.mid.block_2", block_in, block_in)
    for i in reversed(range(n)):
        block_out = CH * CH_MULT[i]
        for b in range(3):
            resnet(sd, f"{dd}.up.{i}.block.{b}", block_in, block_out)
            block_in = block_out
            if i == n - 1:
                attn(sd, f"{dd}.up.{i}.attn.{b}", block_in)
        if i != 0:
            conv(sd, f"{dd}.up.{i}.upsample.conv", block_in, block_in, 3)
    norm(sd, f"{dd}.norm_out", block_in)
    conv(sd, f"{dd}.conv_out", 3, block_in, 3)
    # PatchGAN discriminator (dropped by `hart convert`): conv / batch-norm stacks with running stats
    chans = [3, 64, 128, 256, 512, 1]
    idx = 0
    for j in range(5):
        cin, cout = chans[j], chans[j + 1]
        conv(sd, f"disc.main.{idx}", cout, cin, 4)
        if 0 < j < 4:
            bn = f"disc.main.{idx + 1}"
            norm(sd, bn, cout)
            sd[f"{bn}.running_mean"] = torch.zeros(cout)
            sd[f"{bn}.running_var"] = torch.ones(cout)
            sd[f"{bn}.num_batches_tracked"] = torch.tensor(0, dtype=torch.int64)
            idx += 3
        else:
            idx += 2
    return sd


ST_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def save_safetensors(sd, path, metadata=None):
    """A safetensors file (header JSON padded to 8 bytes, then the tensors' bytes in name order)."""
    header, pos = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    names = sorted(sd)
    for k in names:
        t = sd[k].contiguous()
        nbytes = t.numel() * t.element_size()
        header[k] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [pos, pos + nbytes]}
        pos += nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for k in names:
            f.write(sd[k].contiguous().numpy().tobytes())
    os.replace(tmp, path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/hart-official-full"
    os.makedirs(f"{out}/llm", exist_ok=True)
    os.makedirs(f"{out}/tokenizer", exist_ok=True)
    with open(f"{out}/llm/config.json", "w") as f:
        json.dump(LLM_CONFIG, f, indent=2)
    with open(f"{out}/tokenizer/config.json", "w") as f:
        json.dump(TOKENIZER_CONFIG, f, indent=2)
    tok = tokenizer_state_dict()
    save_safetensors(tok, f"{out}/tokenizer/model.safetensors", {"format": "pt"})
    print(f"tokenizer: {len(tok)} tensors, {sum(t.numel() for k, t in tok.items() if k.startswith('vae.')) / 1e6:.1f}M vae parameters")
    del tok
    sd = llm_state_dict()
    params = sum(t.numel() for k, t in sd.items() if k not in ("lvl_1L", "attn_bias_for_masking"))
    torch.save(sd, f"{out}/llm/ema_model.bin.tmp")
    os.replace(f"{out}/llm/ema_model.bin.tmp", f"{out}/llm/ema_model.bin")
    print(f"llm: {len(sd)} tensors, {params / 1e6:.1f}M parameters (+ buffers) -> {out}/llm/ema_model.bin")


if __name__ == "__main__":
    main()
