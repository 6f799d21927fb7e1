// The page: a form checked by the same schema as the CLI and the server, generation in a worker
// (or on a running `hart serve`), coarse-to-fine previews as each scale lands, cancel, a PNG with
// its settings in the metadata, and a gallery of this visit's images.
import { parseGenerationRequest, RequestError, type GenerationRequest } from '../../src/api/request.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLDivElement>('status'), errorBox = $<HTMLDivElement>('error'), stage = $<HTMLDivElement>('stage');
const go = $<HTMLButtonElement>('go'), cancelBtn = $<HTMLButtonElement>('cancel'), progress = $<HTMLProgressElement>('progress');
const image = $<HTMLImageElement>('image'), download = $<HTMLAnchorElement>('download'), gallery = $<HTMLDivElement>('gallery');
const engine = $<HTMLSelectElement>('engine'), backendSel = $<HTMLSelectElement>('backend'), folder = $<HTMLInputElement>('folder');

/** What tests (and curious users) can read: events in order, the last image, the model state. */
interface HartDebug { events: { stage: string; step: number; previewWidth?: number; elapsed?: number }[]; last?: { png: Uint8Array; data?: Float32Array; seed: number; seconds: number }; loaded?: Record<string, unknown>; errors: string[] }
const debug: HartDebug = { events: [], errors: [] };
(window as unknown as { __hart: HartDebug }).__hart = debug;

const params = new URLSearchParams(location.search);
if (params.get('backend')) backendSel.value = params.get('backend')!;
// the sampling fields can be preset from the URL, e.g. ?top_k=1 for arg-max token choices, which make
// images comparable across backends (sampled choices can flip on last-bit logit differences)
const MORE_FIELDS = ['n', 'top_k', 'top_p', 'temperature', 'more_smooth']; // inside <details id="more">
for (const id of ['seed', 'cfg', 'cfg_schedule', 'steps', ...MORE_FIELDS]) {
  const v = params.get(id);
  if (v === null) continue;
  $<HTMLInputElement | HTMLSelectElement>(id).value = v;
  if (MORE_FIELDS.includes(id)) $<HTMLDetailsElement>('more').open = true;
}

let worker: Worker | undefined;
let model: { id: string; files: string | null } | undefined;
let current: { id: string; abort?: AbortController } | undefined;
const objectUrls: string[] = [];

const setStatus = (s: string) => { status.textContent = s; };
const setError = (s: string) => { errorBox.textContent = s; if (s) debug.errors.push(s); };
const blobUrl = (bytes: Uint8Array) => { const u = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'image/png' })); objectUrls.push(u); return u; };

async function discover() {
  try {
    const r = await fetch('./api/models');
    if (r.ok) {
      const j = await r.json() as { data: { id: string; files: string | null }[] };
      model = j.data[0];
      (engine.querySelector('option[value=server]') as HTMLOptionElement).disabled = false;
    }
  } catch { /* a static host: no server */ }
}

function startWorker(msg: Record<string, unknown>): Promise<void> {
  worker?.terminate();
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  debug.loaded = undefined;
  go.disabled = true;
  return new Promise((ok) => {
    worker!.onmessage = (ev) => {
      const m = ev.data;
      if (m.type === 'download') {
        const text = `${(m.bytes / 2 ** 20).toFixed(1)} MiB${m.cached ? ' (from cache)' : ''}…`;
        // after 'loaded', downloads are the text encoder's, fetched with the first prompt: shown as the stage
        if (debug.loaded) stage.textContent = `fetching the text encoder: ${text}`;
        else setStatus(`loading the model: ${text}`);
      } else if (m.type === 'loaded') {
        debug.loaded = m;
        setStatus(`${m.name} on ${m.backend} in this tab, ${m.resolution}×${m.resolution}, loaded in ${m.seconds.toFixed(1)} s${m.demo ? ' (a random stand-in model: its images are noise)' : ''}`);
        go.disabled = false;
        ok();
      } else if (m.type === 'error' && !m.id) {
        setError(`cannot load the model: ${m.message}`);
        setStatus('no model');
        ok();
      } else onEvent(m);
    };
    worker!.postMessage(msg);
  });
}

async function loadInTab() {
  setError('');
  setStatus('loading the model…');
  if (folder.files?.length) {
    const files = await Promise.all([...folder.files].map(async (f) => ({ path: (f as File & { webkitRelativePath: string }).webkitRelativePath || f.name, bytes: await f.arrayBuffer() })));
    await startWorker({ type: 'load', files, backend: backendSel.value, name: files[0]?.path.split('/')[0] ?? 'model' });
  } else {
    const modelUrl = new URL(model?.files ?? './models/default/', location.href).href;
    await startWorker({ type: 'load', modelUrl, backend: backendSel.value, name: model?.id ?? 'hart-js-default' });
  }
}

function onEvent(m: Record<string, any>) {
  if (!current || m.id !== current.id) return;
  if (m.type === 'progress') {
    const previewWidth = m.previews?.[0] ? pngWidth(m.previews[0]) : undefined;
    debug.events.push({ stage: m.stage, step: m.step, previewWidth, elapsed: m.elapsed });
    progress.max = m.total + 2;
    progress.value = m.stage === 'scale' ? m.step + 1 : m.stage === 'diffusion' ? m.total : m.stage === 'decode' ? m.total + 1 : m.total + 2;
    stage.textContent = m.stage === 'scale' ? `scale ${m.step + 1} of ${m.total}` : m.stage;
    if (m.previews?.[0]) image.src = blobUrl(m.previews[0]);
  } else if (m.type === 'image') {
    if (m.index === 0) showImage(m.png, m.seed, m.data);
    else addToGallery(m.png, m.seed);
  } else if (m.type === 'done') {
    if (debug.last) debug.last.seconds = m.seconds;
    const missing: string[] = m.missingWords ?? [];
    stage.textContent = `done in ${m.seconds.toFixed(2)} s` + (missing.length
      ? ` (the model's vocabulary has no ${missing.map((w) => JSON.stringify(w)).join(', ')}: it reads ${missing.length === 1 ? 'that word' : 'those words'} letter by letter)`
      : '');
    finish();
  } else if (m.type === 'cancelled') {
    stage.textContent = 'cancelled';
    finish();
  } else if (m.type === 'error') {
    setError(m.message);
    finish();
  }
}

const pngWidth = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(16);

function showImage(png: Uint8Array, seed: number, data?: Float32Array) {
  debug.last = { png, data, seed, seconds: 0 };
  const url = blobUrl(png);
  image.src = url;
  download.href = url;
  download.download = `hart-${seed}.png`;
  download.hidden = false;
  addToGallery(png, seed, url);
}

function addToGallery(png: Uint8Array, seed: number, url = blobUrl(png)) {
  const a = document.createElement('a');
  a.href = url;
  a.download = `hart-${seed}.png`;
  a.title = `seed ${seed}`;
  const img = document.createElement('img');
  img.src = url;
  img.alt = `seed ${seed}`;
  a.append(img);
  gallery.prepend(a);
}

function finish() {
  current = undefined;
  go.disabled = false;
  cancelBtn.disabled = true;
}

function readForm(): GenerationRequest {
  // the form is novalidate: the shared schema checks every value and names the field in the error box
  const num = (id: string) => {
    const input = $<HTMLInputElement>(id);
    if (input.validity.badInput) throw new RequestError(`${id}: not a number`, id);
    const v = input.value.trim();
    return v === '' ? undefined : Number(v);
  };
  const schedule = $<HTMLSelectElement>('cfg_schedule').value;
  const smooth = $<HTMLSelectElement>('more_smooth').value;
  return parseGenerationRequest({
    prompt: $<HTMLTextAreaElement>('prompt').value, seed: num('seed'), cfg: num('cfg'), steps: num('steps'),
    n: num('n'), top_k: num('top_k'), top_p: num('top_p'), temperature: num('temperature'),
    // '' = the model folder's own choice (hart.json defaults; official folders: the linear ramp, smoothing on)
    ...(schedule ? { cfg_schedule: schedule } : {}),
    ...(smooth ? { more_smooth: smooth === 'true' } : {}),
  }, 'json');
}

async function generateOnServer(req: GenerationRequest, id: string) {
  const abort = new AbortController();
  current!.abort = abort;
  const t0 = performance.now(); // the server's done event has no duration: the page's wall time, queue wait included
  const res = await fetch('./api/generate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req), signal: abort.signal });
  if (!res.ok) throw new Error(((await res.json()) as { error: { message: string } }).error.message);
  const reader = res.body!.getReader();
  let buf = '';
  const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += new TextDecoder().decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null');
      if (event === 'progress') onEvent({ type: 'progress', id, ...data, previews: data.previews?.map((p: string) => b64(p.split(',')[1])) });
      else if (event === 'image') onEvent({ type: 'image', id, index: data.index, seed: data.seed, png: b64(data.png) });
      else if (event === 'done') onEvent({ type: 'done', id, seconds: (performance.now() - t0) / 1000, missingWords: data.missing_words });
      else if (event === 'cancelled') onEvent({ type: 'cancelled', id });
      else if (event === 'error') onEvent({ type: 'error', id, message: data.message });
    }
  }
}

$<HTMLFormElement>('form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  setError('');
  let req: GenerationRequest;
  try {
    req = readForm();
  } catch (e) {
    setError(e instanceof RequestError ? e.message : String(e));
    return;
  }
  const id = crypto.randomUUID();
  current = { id };
  debug.events = [];
  go.disabled = true;
  cancelBtn.disabled = false;
  progress.value = 0;
  stage.textContent = 'encoding the prompt…';
  if (engine.value === 'server') {
    generateOnServer(req, id).catch((e) => { if ((e as Error).name === 'AbortError') onEvent({ type: 'cancelled', id }); else onEvent({ type: 'error', id, message: (e as Error).message }); });
  } else worker!.postMessage({ type: 'generate', id, request: req });
});

cancelBtn.addEventListener('click', () => {
  if (!current) return;
  if (current.abort) current.abort.abort(); // the server cancels a job whose client goes away
  else worker?.postMessage({ type: 'cancel', id: current.id });
});
backendSel.addEventListener('change', () => { if (engine.value === 'tab') void loadInTab(); });
folder.addEventListener('change', () => { if (engine.value === 'tab') void loadInTab(); });
engine.addEventListener('change', () => {
  if (engine.value === 'server') {
    worker?.terminate();
    worker = undefined;
    setStatus(`${model?.id} on hart serve (${location.host})`);
    go.disabled = false;
  } else void loadInTab();
});

await discover();
if (params.get('engine') === 'server' && model) {
  engine.value = 'server';
  engine.dispatchEvent(new Event('change'));
} else await loadInTab();
