// The package as a user gets it: npm run build, npm pack, npm install of the tarball into a fresh
// project with no .npmrc and no allowScripts (onnxruntime-node's CUDA download fails offline; npm
// drops the optional dependency and HART.js falls back to onnxruntime-web), then the README's
// library snippet run with plain node and compiled by a strict tsc, the `hart` bin from dist/,
// and the browser entry bundled for a browser (esbuild, browser conditions, no Node built-ins).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtureDir } from '../fixtures.ts';
import { convertHart } from '../../src/convert/convert.node.ts';
import { demoTextEncoderFiles } from '../../src/pipeline/demo-text-encoder.ts';
import { readPngText } from '../../src/io/png.ts';
import { VERSION } from '../../src/api/version.ts';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, `npm ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
};

/** The README's library snippet, exactly as printed. */
export function readmeSnippet(): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const m = /<!-- snippet:library[^>]*-->\s*```js\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README.md has no <!-- snippet:library --> block');
  return m[1];
}

/** A HART.js model folder from the parity fixture and the demo text encoder (the default model's stand-in). */
async function standInModel(dir: string): Promise<string> {
  const te = join(dir, 'te');
  mkdirSync(te, { recursive: true });
  const f = demoTextEncoderFiles();
  writeFileSync(join(te, 'config.json'), JSON.stringify(f.config));
  writeFileSync(join(te, 'tokenizer.json'), JSON.stringify(f.tokenizerJson));
  writeFileSync(join(te, 'tokenizer_config.json'), JSON.stringify(f.tokenizerConfig));
  writeFileSync(join(te, 'model.safetensors'), f.safetensors);
  const out = join(dir, 'model');
  await convertHart(fixtureDir(), out, { textEncoder: te });
  return out;
}

test('version: src/api/version.ts matches package.json', () => {
  assert.equal(VERSION, JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version);
});

test('npm pack → install into a fresh project offline → README snippet with node and strict tsc, bin, browser bundle', { timeout: 180_000 }, async (t) => {
  const t0 = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), 'hart-pack-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const build = spawnSync(process.execPath, [join(repo, 'scripts', 'build.mjs')], { cwd: repo, encoding: 'utf8' });
  assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}\n${build.stderr}`);
  const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], repo);
  const info = JSON.parse(packed.stdout)[0] as { filename: string; files: { path: string }[] };
  const paths = info.files.map((f) => f.path);
  // only what users need: built JS + .d.ts, the bin, models, the web app; no sources, tests, benches
  for (const p of paths) assert.match(p, /^(dist\/|bin\/|models\/|web\/dist\/|README\.md$|LICENSE$|package\.json$)/, `unexpected file in the package: ${p}`);
  assert.ok(!paths.some((p) => p.endsWith('.ts') && !p.endsWith('.d.ts')), 'a .ts source file is in the package');
  for (const p of ['dist/index.js', 'dist/index.d.ts', 'dist/index.node.js', 'dist/index.node.d.ts', 'dist/cli/main.js', 'bin/hart.mjs', 'LICENSE']) assert.ok(paths.includes(p), `${p} missing`);

  const app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }));
  const ts = JSON.parse(readFileSync(join(repo, 'node_modules', 'typescript', 'package.json'), 'utf8')).version;
  const types = JSON.parse(readFileSync(join(repo, 'node_modules', '@types', 'node', 'package.json'), 'utf8')).version;
  // no ONNXRUNTIME_NODE_INSTALL, no .npmrc: what a consumer has
  const env = { ONNXRUNTIME_NODE_INSTALL: '', npm_config_onnxruntime_node_install: '' };
  const tPack = performance.now();
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', join(tmp, info.filename), `typescript@${ts}`, `@types/node@${types}`], app, env);
  const pkg = join(app, 'node_modules', 'hart-js');
  if (!existsSync(join(pkg, 'models', 'default', 'hart.json'))) {
    // until the embedded model ships, the stand-in goes where it will be
    cpSync(await standInModel(tmp), join(pkg, 'models', 'default'), { recursive: true });
  }

  const tInstall = performance.now();
  // the README snippet, as printed, with plain node
  const snippet = readmeSnippet();
  writeFileSync(join(app, 'snippet.mjs'), snippet);
  const run = spawnSync(process.execPath, ['snippet.mjs'], { cwd: app, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, `the README snippet failed:\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /^scale 0$/m);
  // offline, onnxruntime-node's install script failed and npm dropped it: the wasm fallback ran, and said so
  if (!existsSync(join(app, 'node_modules', 'onnxruntime-node', 'package.json'))) assert.match(run.stderr, /onnxruntime-node is not installed/);
  const text = readPngText(new Uint8Array(readFileSync(join(app, 'out.png'))));
  assert.match(text.parameters, /^a red circle above a blue square\nSteps: 8, .*Seed: 1, Size: 64x64, Model: hart-js-default/);

  // …and under a consumer's strict tsc (tsc --init's settings: strict, nodenext, skipLibCheck)
  writeFileSync(join(app, 'snippet.ts'), snippet);
  const tsconfig = (skipLibCheck: boolean) => JSON.stringify({
    compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck, types: ['node'], lib: ['es2023'] },
    files: ['snippet.ts'],
  });
  const tscBin = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
  // with skipLibCheck off, so our own declarations are checked too: errors may come from
  // dependencies' declarations (onnxruntime-common wants DOM types, @huggingface/tokenizers' are
  // not nodenext-clean; tsc --init's skipLibCheck hides them), never from the snippet or ours
  writeFileSync(join(app, 'tsconfig.json'), tsconfig(false));
  const tsc = spawnSync(process.execPath, [tscBin, '-p', '.'], { cwd: app, encoding: 'utf8' });
  const ours = `${tsc.stdout}`.split('\n').filter((l) => /^(snippet\.ts|node_modules\/hart-js\/)/.test(l));
  assert.deepEqual(ours, [], 'errors in the snippet or in our declarations');
  assert.ok(tsc.stdout.length > 0 || tsc.status === 0);
  const tTsc = performance.now();

  // the bin runs the built JavaScript
  const v = execFileSync(join(app, 'node_modules', '.bin', 'hart'), ['--version'], { cwd: app, encoding: 'utf8' });
  assert.equal(v.trim(), VERSION);
  const infoOut = execFileSync(join(app, 'node_modules', '.bin', 'hart'), ['info', '--json'], { cwd: app, encoding: 'utf8' });
  assert.equal(JSON.parse(infoOut).name, 'hart-js-default');

  // the browser entry bundles for a browser: the `browser` condition, no node: imports
  writeFileSync(join(app, 'web.js'), "import { HartPipeline, webRuntime, encodeImagePng } from 'hart-js';\nconsole.log(HartPipeline, webRuntime, encodeImagePng);\n");
  const esbuild = await import('esbuild');
  const b = await esbuild.build({
    absWorkingDir: app, entryPoints: ['web.js'], bundle: true, platform: 'browser', format: 'esm', write: false,
    external: ['onnxruntime-web'], logLevel: 'silent', metafile: true,
  });
  const inputs = Object.keys(b.metafile!.inputs);
  assert.ok(inputs.some((p) => p.includes('hart-js/dist/index.js')), 'the browser build did not use dist/index.js');
  assert.ok(!inputs.some((p) => p.includes('.node.js')), `a Node module reached the browser bundle: ${inputs.filter((p) => p.includes('.node.js'))}`);
  const s = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
  console.log(`# package: ${paths.length} files; build+pack ${s(t0, tPack)} s, install ${s(tPack, tInstall)} s, snippet+tsc ${s(tInstall, tTsc)} s, total ${s(t0, performance.now())} s`);
});
