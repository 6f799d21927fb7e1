// Registers the subcommands of `hart`; each lives in its own file and is loaded when used.
import type { Command } from 'commander';

export function registerCommands(program: Command): void {
  program
    .command('generate')
    .description('generate an image from a text prompt (PNG with the settings in its metadata)')
    .argument('<prompt...>', 'the text prompt')
    .option('-o, --output <file>', 'output PNG (several images: out-1.png, out-2.png, …)', 'out.png')
    .option('--model <dir>', 'model folder: HART.js layout (hart.json) or the official one (llm/, tokenizer/)')
    .option('--text-encoder <dir>', 'Qwen2 text-encoder folder (default: <model>/text_encoder)')
    .option('--seed <n>', 'random seed (image b of a batch uses seed + b)', '1')
    .option('--cfg <x>', 'classifier-free guidance scale on the official ramp (default: the model\'s, 4.5)')
    .option('--top-k <n>', 'top-k for every scale (default: 600 for the first 7 scales, 300 after)')
    .option('--top-p <x>', 'nucleus sampling mass (default 0 = off)')
    .option('--temperature <x>', 'logit temperature (default 1; 0 = arg-max)')
    .option('--steps <n>', 'residual diffusion steps (default 8)')
    .option('--no-more-smooth', 'hard token choices instead of the Gumbel-smooth path (the benchmark setting)')
    .option('--batch <n>', 'images to make from the prompt', '1')
    .option('--threads <n>', 'CPU threads for ONNX Runtime (default: all cores)')
    .option('--preview-dir <dir>', 'write a coarse-to-fine preview PNG per scale')
    .option('-q, --quiet', 'no progress output')
    .action(async (prompt, opts) => (await import('./generate.node.ts')).generateCommand(prompt, opts));
  program
    .command('convert')
    .description('official HART checkpoint folder (llm/, tokenizer/) → HART.js model folder (hart.json, safetensors, configs, model card)')
    .argument('<official-dir>', 'the official folder: llm/ (config.json + ema_model.bin or model.safetensors) and tokenizer/')
    .argument('<out-dir>', 'the HART.js model folder to write (complete or absent: written beside it, then renamed)')
    .option('--text-encoder <dir>', 'a Qwen2 / Qwen2-VL folder to include as text_encoder/ (language-model weights only)')
    .option('--dtype <dtype>', 'storage of float tensors: float32 or float16', 'float32')
    .option('--quantize <q>', 'none, or int4: 4-bit blockwise Linear weights run as ONNX Runtime MatMulNBits', 'none')
    .option('--block-size <n>', 'int4 block size along the input dimension (power of two ≥ 16)', '32')
    .option('--force', 'replace an existing output folder')
    .option('--json', 'print the report as one JSON object')
    .option('-q, --quiet', 'no progress output')
    .action(async (src, out, opts) => (await import('../convert/cli.node.ts')).convertCommand(src, out, opts));
  const bench = program.command('bench').description('benchmarks (ratios against a baseline measured in the same run)');
  bench
    .command('engine')
    .description('ONNX Runtime MatMul peak, a Llama-style block forward and training step, and a PyTorch peer')
    .option('--json', 'print one JSON object as the last line')
    .option('--threads <n>', 'intra-op threads', '2')
    .action(async (opts) => (await import('../../bench/engine.ts')).benchEngine(opts));
  bench
    .command('generate')
    .description('one generation stage by stage: seconds, GFLOP/s vs the MatMul peak, FLOP floor, peak RSS')
    .option('--config <name>', 'tiny (the parity fixture) or full (0.7B at 1024 px, random weights)', 'tiny')
    .option('--json', 'print one JSON object as the last line')
    .option('--threads <n>', 'intra-op threads', '2')
    .option('--scales <n>', 'stop after n scales (diffusion and decode then run standalone; the rest is extrapolated)')
    .option('--skip-decode', 'do not run the VAE decoder')
    .option('--skip-text', 'no text encoder (a random context)')
    .option('--repeat <n>', 'generations to time (default: 3 tiny, 1 full)')
    .option('--batch <n>', 'images per generation', '1')
    .option('--system-tokens <n>', 'system-prompt tokens before the 300 prompt tokens (default: 132, an estimate)')
    .option('--head-groups <n>', 'attention head groups (default: defaultHeadGroups)')
    .option('--kernel <k>', 'attention lowering: graph or mha')
    .option('--single-shot', 'free the transformer and diffusion sessions before the decode, as hart generate does (one generation)')
    .option('--mem-pattern <on|off>', "ONNX Runtime's memory pattern (default on)")
    .action(async (opts) => (await import('../../bench/generate.ts')).benchGenerate(opts));
  bench
    .command('load')
    .description('full-size load: official checkpoint vs converted float32 / float16 / int4 folders (seconds, peak RSS, size)')
    .option('--checkpoint <dir>', 'official-format checkpoint (bench/make-official-checkpoint.py)', '/tmp/hart-official-full')
    .option('--json', 'print one JSON object as the last line')
    .option('--threads <n>', 'intra-op threads', '2')
    .option('--keep', 'keep the converted folders (<checkpoint>-bench-<variant>)')
    .option('--cast-probe', 'also check whether ONNX Runtime folds Cast(float16 weight) into a float32 initializer (the optimized model it saves)')
    .option('--text-encoder', 'with the HART parts loaded, also load/run/release a random Qwen2-1.5B text encoder (int4 for the int4 folder)')
    .option('--skip <variants>', 'comma-separated variants to skip: official, float32, float16, int4')
    .action(async (opts) => (await import('../../bench/load.ts')).benchLoad(opts));
  bench
    .command('convert')
    .description('hart convert accuracy on the parity fixture: float16 / int4 vs float32 (image, logits, token choices)')
    .option('--json', 'print one JSON object as the last line')
    .action(async (opts) => (await import('../../bench/convert-accuracy.ts')).benchConvertAccuracy(opts));
  bench
    .command('fuzz')
    .description('seeded mutation fuzzer over every model-file reader: accepted / rejected / other exception / over 2 s / over +256 MiB')
    .option('--json', 'print one JSON object as the last line')
    .option('--cases <n>', 'cases in all, spread over the readers', '100000')
    .option('--seed <n>', 'seed of the mutations', '1')
    .action(async (opts) => (await import('../../bench/fuzz.ts')).benchFuzz(opts));
}
