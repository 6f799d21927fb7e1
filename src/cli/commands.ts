// Registers the subcommands of `hart`; each lives in its own file and is loaded when used.
// To add one: a `program.command(...)` block here whose action imports its file.
import type { Command } from 'commander';
import { interrupt } from './main.ts';

/**
 * A benchmark module (bench/<name>.ts). Benchmarks live outside src/ and run from a source
 * checkout (through tsx); the published package does not ship them.
 */
async function benchModule(name: string): Promise<Record<string, (opts: unknown) => Promise<void>>> {
  const url = new URL(`../../bench/${name}.ts`, import.meta.url);
  try {
    return await import(url.href);
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' || (e as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      const err = new Error(`hart bench ${name} runs from a source checkout of HART.js (bench/${name}.ts is not part of the package)`);
      err.name = 'UserError';
      throw err;
    }
    throw e;
  }
}

/** The sampling options of hart generate and hart enqueue (unset = the model's defaults, options.ts). */
function samplingOptions(cmd: Command): Command {
  return cmd
    .option('--cfg <x>', 'classifier-free guidance scale (default: the model\'s; 4.5 officially)')
    .option('--cfg-schedule <s>', 'how guidance grows over the scales: linear (the official ramp from 0) or constant (default: the model\'s; linear officially)')
    .option('--top-k <n>', 'top-k for every scale (default: the model\'s; officially 600 for the first 7 scales, 300 after, clipped to the vocabulary)')
    .option('--top-p <x>', 'nucleus sampling mass (default 0 = off)')
    .option('--temperature <x>', 'logit temperature (default 1; 0 = arg-max)')
    .option('--steps <n>', 'residual diffusion steps (default: the model\'s num_sampling_steps)')
    .option('--no-more-smooth', 'hard token choices instead of the Gumbel-smooth path (the benchmark setting)');
}

export function registerCommands(program: Command): void {
  samplingOptions(program
    .command('generate')
    .description('generate an image from a text prompt (PNG with the settings in its metadata)')
    .argument('<prompt...>', 'the text prompt')
    .option('-o, --output <file>', 'output PNG (several images: out-1.png, out-2.png, …)', 'out.png')
    .option('--model <dir>', 'model folder: HART.js layout (hart.json) or the official one (llm/, tokenizer/); default: the embedded model')
    .option('--text-encoder <dir>', 'Qwen2 text-encoder folder (default: <model>/text_encoder)')
    .option('--seed <n>', 'random seed (image b of a batch uses seed + b)', '1'))
    .option('--batch <n>', 'images to make from the prompt', '1')
    .option('--threads <n>', 'CPU threads for ONNX Runtime (default: the physical cores)')
    .option('--precision <mode>', 'matrix precision of the transformer blocks: float32, int8, int4 or dynq8 (default: the model\'s, else float32; see hart bench generate --precision)')
    .option('--preview-dir <dir>', 'write a coarse-to-fine preview PNG per scale')
    .option('--no-metadata', 'write no prompt or settings into the PNG')
    .option('-q, --quiet', 'no progress output')
    .action(async (prompt, opts) => (await import('./generate.node.ts')).generateCommand(prompt, { ...opts, signal: interrupt.signal }));
  program
    .command('info')
    .description('a model folder: name, parameter counts, configuration, sampling defaults, model card')
    .option('--model <dir>', 'model folder (default: the embedded model)')
    .option('--text-encoder <dir>', 'Qwen2 text-encoder folder, if separate')
    .option('--json', 'print one JSON object')
    .action(async (opts) => (await import('./info.node.ts')).infoCommand(opts));
  program
    .command('serve')
    .description('HTTP API (OpenAI /v1/images/generations, streaming /api/generate) and the web app')
    .option('--model <dir>', 'model folder (default: the embedded model)')
    .option('--text-encoder <dir>', 'Qwen2 text-encoder folder, if separate')
    .option('--host <host>', 'address to bind (default 127.0.0.1: this machine only)', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', '7860')
    .option('--concurrency <n>', 'generations run at once', '1')
    .option('--queue <n>', 'requests waiting beyond those running; more get 429', '8')
    .option('--max-n <n>', 'most images per request', '4')
    .option('--body-limit <bytes>', 'largest request body', '65536')
    .option('--cors <origins>', 'comma-separated origins allowed to call the API from a browser (default: none)')
    .option('--threads <n>', 'CPU threads for ONNX Runtime (default: the physical cores ÷ --concurrency, at least 1)')
    .option('--prompt-cache-mb <n>', 'memory for reusing the work of prompts generated again (text encodings, first transformer step); 0 none', '256')
    .option('--web <dir>', 'the web app folder to serve (default: web/dist)')
    .option('--redis <url>', 'generate through the shared job queue on this Redis (with hart worker): redis://[:password@]host:port or rediss://; --concurrency 0 = front end only')
    .option('--redis-queue <name>', 'the queue name with --redis', 'hart')
    .option('-q, --quiet', 'no request log')
    .action(async (opts) => (await import('../server/serve.node.ts')).serveCommand(opts, interrupt.signal));
  // distributed generation on BullMQ + Redis (src/queue/)
  samplingOptions(program
    .command('enqueue')
    .description('queue one job per image (prompt × seed) for hart workers; resubmitting adds only what is missing')
    .argument('<prompts>', 'a .jsonl file ({"prompt": …, "seed"?: …, "cfg"?: …} per line) or a text file (one prompt per line)')
    .requiredOption('--out <folder>', 'where the workers write the PNGs and manifest.jsonl (shared storage, same path on every worker)')
    .option('--redis <url>', 'redis://[:password@]host:port[/db] or rediss:// (TLS); default $HART_REDIS_URL or redis://127.0.0.1:6379')
    .option('--queue <name>', 'queue name (one per model)', 'hart')
    .option('--seeds <list>', 'seeds per prompt: 1, 1-100 or 1,5,9-12 (a JSONL line with "seed" uses its own)', '1')
    .option('--model <dir>', 'the model the workers serve (its folder name is the job\'s model id; default: the embedded model)')
    .option('--model-id <name>', 'the model id without the folder (the folder name the workers load)'))
    .option('--attempts <n>', 'tries per job before it is parked', '3')
    .option('--json', 'print one JSON object')
    .option('-q, --quiet', 'no output')
    .action(async (file, opts) => { await (await import('../queue/enqueue.node.ts')).enqueueCommand(file, opts); });
  program
    .command('worker')
    .description('take image jobs from the queue: load the model once, write each PNG atomically + one manifest line; Ctrl-C drains')
    .option('--redis <url>', 'redis://[:password@]host:port[/db] or rediss:// (TLS); default $HART_REDIS_URL or redis://127.0.0.1:6379')
    .option('--queue <name>', 'queue name (one per model)', 'hart')
    .option('--out <folder>', 'write here instead of each job\'s folder')
    .option('--concurrency <n>', 'jobs at once', '1')
    .option('--model <dir>', 'model folder (default: the embedded model)')
    .option('--text-encoder <dir>', 'Qwen2 text-encoder folder, if separate')
    .option('--threads <n>', 'CPU threads for ONNX Runtime (default: the physical cores ÷ --concurrency, at least 1)')
    .option('--prompt-cache-mb <n>', 'memory for reusing the work of prompts generated again (text encodings, first transformer step); 0 none', '256')
    .option('--stall-timeout <s>', 'seconds after which a silent (killed) worker\'s job goes to another worker', '60')
    .option('-q, --quiet', 'no per-job log')
    .action(async (opts) => (await import('../queue/worker.node.ts')).workerCommand(opts, interrupt.signal));
  program
    .command('queue')
    .description('the job queue of hart enqueue / hart worker')
    .command('status')
    .description('counts, throughput, ETA, workers and parked jobs (with their errors)')
    .option('--redis <url>', 'redis://[:password@]host:port[/db] or rediss:// (TLS); default $HART_REDIS_URL or redis://127.0.0.1:6379')
    .option('--queue <name>', 'queue name', 'hart')
    .option('--watch', 'redraw (with a progress bar) until the queue is drained or Ctrl-C')
    .option('--interval <s>', 'seconds between redraws with --watch', '1')
    .option('--parked <n>', 'parked jobs to list', '10')
    .option('--json', 'print one JSON object (per redraw with --watch)')
    .action(async (opts) => (await import('../queue/status.node.ts')).statusCommand(opts, interrupt.signal));
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
  program
    .command('train')
    .description('train a HART model from a recipe (recipes/*.json): tokenizer, then text encoder + transformer + residual diffusion')
    .argument('<recipe>', 'the recipe JSON file')
    .option('--run <dir>', 'run folder for checkpoints, logs and samples (default runs/<recipe name>)')
    .option('--resume', 'continue the run in --run from its last checkpoint')
    .option('--out <dir>', 'also write the finished model folder here')
    .option('--dtype <dtype>', 'storage of the model folder weights: float32 or float16', 'float32')
    .option('--max-steps <n>', 'stop with a checkpoint after n steps of this invocation')
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: the physical cores)')
    .option('-q, --quiet', 'no progress output')
    .action(async (recipe, opts) => (await import('../train/train.node.ts')).trainCommand(recipe, opts));
  program
    .command('export')
    .description('write a HART.js model folder in the official checkpoint layout (llm/, tokenizer/, text_encoder/) for the official PyTorch code')
    .argument('<model>', 'the HART.js model folder (hart.json)')
    .argument('<out-dir>', 'the folder to write')
    .option('--official', 'the official layout (llm/config.json, llm/model.safetensors, llm/ema_model.bin, tokenizer/)')
    .option('--force', 'replace an existing output folder')
    .action(async (model, out, opts) => (await import('../train/export-official.node.ts')).exportCommand(model, out, opts));
  program
    .command('eval')
    .description('measure a model (64·k px): tokenizer PSNR/SSIM, held-out scenes accuracy, emoji retrieval, KID, the discrete-only ablation, latency (issue 8 goals)')
    .option('--model <dir>', 'model folder (default: models/default)')
    .option('--json', 'print one JSON object as the last line')
    .option('--n <count>', 'prompts per set (held-out scenes, training emoji, held-out emoji) and images per reconstruction set', '32')
    .option('--seed <s>', 'seed of the samples and of the generations (image k: seed + k)', '1')
    .option('--threads <n>', 'ONNX Runtime intra-op threads', '2')
    .option('--latency-threads <n>', 'ONNX Runtime threads for the latency figure (default: the physical cores, as hart generate)')
    .option('--batch <n>', 'images per generation call', '16')
    .option('--features <file>', 'feature-network weights (default: src/eval/feature-net.safetensors; trained there when absent)')
    .option('--emoji-sets <sets>', 'emoji sets for prompts and retrieval galleries: twitter, google or both', 'twitter,google')
    .option('-q, --quiet', 'only the result')
    .action(async (opts) => (await import('./eval.node.ts')).evalCommand(opts));
  program
    .command('plot-log')
    .description('training curves of a run (<run-dir>/log.jsonl) as a PNG: one panel per stage and series')
    .argument('<run-dir>', 'the run folder (or its log.jsonl)')
    .option('-o, --output <png>', 'output PNG', 'loss.png')
    .action(async (runDir, opts) => (await import('../eval/plot-log.node.ts')).plotLogCommand(runDir, opts));
  const bench = program.command('bench').description('benchmarks (ratios against a baseline measured in the same run; from a source checkout)');
  bench
    .command('engine')
    .description('ONNX Runtime MatMul peak, a Llama-style block forward and training step, and a PyTorch peer')
    .option('--json', 'print one JSON object as the last line')
    .option('--threads <n>', 'intra-op threads', '2')
    .action(async (opts) => (await benchModule('engine')).benchEngine(opts));
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
    .option('--head-groups <n>', 'attention head groups (default: defaultAttentionLayout\'s)')
    .option('--query-chunk <n>', 'attention query chunk with head groups (default: defaultAttentionLayout\'s; 2048 at 1024 px)')
    .option('--kernel <k>', 'attention lowering: graph or mha')
    .option('--single-shot', 'free the transformer and diffusion sessions before the decode, as hart generate does (one generation)')
    .option('--prompt-repeat', 'after the timed generations (each another prompt), the last prompt again: what the prompt cache saves (prompt_repeat; with --repeat 2 or more, so that the new prompt is not the first generation)')
    .option('--more-smooth', 'the Gumbel-smooth token path (the official sample script\'s default); default hard tokens')
    .option('--mem-pattern <on|off>', "ONNX Runtime's memory pattern (default on)")
    .option('--size <px>', 'image size with --config full: 256, 512 or 1024 (the official schedules)', undefined)
    .option('--precision <modes>', 'matrix precision of the transformer blocks, comma-separated (float32, int8, int4, dynq8); the first is timed, the others compared to it', 'float32')
    .option('--cache-dir <dir>', 'on-disk model cache for the cold/warm loads (default: a fresh temporary folder)')
    .option('--no-warm', 'load once (no second, warm load from the model cache)')
    .option('--text-encoder-file <path>', 'the random text encoder as a bfloat16 safetensors file: loaded when it exists, else written there and kept (default: written to a temporary folder, removed)')
    .action(async (opts) => (await benchModule('generate')).benchGenerate(opts));
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
    .action(async (opts) => (await benchModule('load')).benchLoad(opts));
  bench
    .command('convert')
    .description('hart convert accuracy on the parity fixture: float16 / int4 vs float32 (image, logits, token choices)')
    .option('--json', 'print one JSON object as the last line')
    .action(async (opts) => (await benchModule('convert-accuracy')).benchConvertAccuracy(opts));
  bench
    .command('train')
    .description('the tokenizer and transformer training steps of a recipe: samples/s, GFLOP/s vs the same-run MatMul peak, spread, peak RSS')
    .option('--recipe <file>', 'the recipe whose sizes to time', 'recipes/default.json')
    .option('--json', 'print one JSON object as the last line')
    .option('--threads <n>', 'intra-op threads', '2')
    .option('--rounds <n>', 'interleaved rounds (2 steps of each stage per round)', '5')
    .action(async (opts) => { await (await benchModule('train')).benchTrain(opts); });
  bench
    .command('fuzz')
    .description('seeded mutation fuzzer over every model-file reader: accepted / rejected / other exception / over 2 s / over +256 MiB')
    .option('--json', 'print one JSON object as the last line')
    .option('--cases <n>', 'cases in all, spread over the readers', '100000')
    .option('--seed <n>', 'seed of the mutations', '1')
    .option('--readers <names>', 'comma-separated readers to fuzz (default: all)')
    .action(async (opts) => (await benchModule('fuzz')).benchFuzz(opts));
  bench
    .command('serve')
    .description('N concurrent clients against hart serve on loopback: p50/p95 latency, throughput, errors, 429s, RSS before/after')
    .option('--json', 'print one JSON object as the last line')
    .option('--model <dir>', 'model folder (default: the embedded model)')
    .option('--clients <n>', 'concurrent clients', '4')
    .option('--requests <n>', 'requests in all', '500')
    .option('--concurrency <n>', 'server generation concurrency', '1')
    .option('--queue <n>', 'server queue bound', '8')
    .option('--seconds <n>', 'stop after this many seconds', '120')
    .action(async (opts) => (await benchModule('serve')).benchServe(opts));
  bench
    .command('queue')
    .description('images/s through the BullMQ queue with 1 and 2 workers vs plain generation in the same run; Redis round trips and bytes per job')
    .option('--json', 'print one JSON object as the last line')
    .option('--model <dir>', 'model folder (default: the embedded model)')
    .option('--images <n>', 'images per measurement', '16')
    .option('--threads <n>', 'ONNX Runtime threads of the baseline and 1-worker runs, and of each of the 2 workers (default: all cores; 1 per worker)')
    .action(async (opts) => (await benchModule('queue')).benchQueue(opts));
  bench
    .command('browser')
    .description('seconds per image in headless Chromium on wasm and WebGPU, as a ratio to Node in the same run')
    .option('--json', 'print one JSON object as the last line')
    .option('--repeat <n>', 'timed images per backend', '2')
    .option('--warmup <n>', 'untimed images per backend after the first (V8 tiers up onnxruntime-web\'s wasm over the first few images)', '3')
    .option('--backends <list>', 'comma-separated: wasm, webgpu', 'wasm,webgpu')
    .action(async (opts) => (await benchModule('browser')).benchBrowser(opts));
}
