// The `hart` launcher (bin/hugepages.mjs) on Linux with glibc: model-loading commands run in a child
// process with glibc's huge-page tunable; signals sent to the launcher reach the command, a Ctrl-C
// that reaches both counts once (the run still stops cleanly), and a killed launcher leaves no
// orphan working. HART_HUGEPAGES=0 runs the command in the launcher's own process.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = resolve(fileURLToPath(new URL('../../bin/hart.mjs', import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'hart-launcher-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const glibc = process.platform === 'linux' && Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);
const skip = glibc ? false : 'needs Linux with glibc';

/** The environment without the tunable (the test runner may set it). */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete e.GLIBC_TUNABLES;
  return e;
}

function environ(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function until<T>(f: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((ok) => c.on('exit', (code, signal) => ok({ code, signal })));
}

test('generate runs in a child with glibc.malloc.hugetlb=1; a SIGKILLed launcher leaves no orphan', { skip, timeout: 60_000 }, async () => {
  const launcher = spawn(process.execPath, [BIN, 'generate', 'a red circle', '-o', join(dir, 'k.png'), '--batch', '8', '--threads', '1'], { cwd: dir, env: env(), stdio: 'ignore' });
  const child = await until(() => children(launcher.pid!).find((p) => environ(p).some((v) => v.startsWith('GLIBC_TUNABLES='))), 20_000, 'the command process');
  assert.ok(environ(child).includes('GLIBC_TUNABLES=glibc.malloc.hugetlb=1'));
  assert.ok(!environ(launcher.pid!).some((v) => v.startsWith('GLIBC_TUNABLES=')));
  const gone = exited(launcher);
  launcher.kill('SIGKILL');
  await gone;
  await until(() => (existsSync(`/proc/${child}`) && !/\) Z /.test(readFileSync(`/proc/${child}/stat`, 'utf8')) ? undefined : true), 10_000, 'the orphan to exit');
});

test('Ctrl-C to the whole process group (launcher and command) stops the run cleanly once', { skip, timeout: 120_000 }, async () => {
  const out = join(dir, 'c.png');
  const launcher = spawn(process.execPath, [BIN, 'generate', 'a red circle', '-o', out, '--batch', '8', '--threads', '1'], { cwd: dir, env: env(), detached: true });
  let err = '';
  launcher.stderr!.on('data', (b) => {
    const before = err;
    err += b;
    if (!/^load /m.test(before) && /^load /m.test(err)) process.kill(-launcher.pid!, 'SIGINT');
  });
  const r = await exited(launcher);
  assert.equal(r.code, 130, err);
  assert.match(err, /Ctrl-C: stopping/);
  assert.match(err, /hart: cancelled; nothing was written/, 'a repeated delivery of the same Ctrl-C must not quit at once');
  assert.ok(!existsSync(out));
});

test('HART_HUGEPAGES=0 runs the command in the launcher process', { skip, timeout: 60_000 }, async () => {
  const launcher = spawn(process.execPath, [BIN, 'generate', 'a red circle', '-o', join(dir, 'n.png'), '--batch', '8', '--threads', '1'], { cwd: dir, env: env({ HART_HUGEPAGES: '0' }), stdio: 'ignore' });
  const r = exited(launcher);
  await new Promise((ok) => setTimeout(ok, 1500));
  assert.deepEqual(children(launcher.pid!).filter((p) => environ(p).some((v) => v.includes('hugetlb'))), []);
  launcher.kill('SIGKILL');
  await r;
});
