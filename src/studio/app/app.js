// graft studio's page: projects, class cards with their samples (images, recordings from the
// microphone or files, texts), training with live curves, the trained model's report, trying it
// (in this page with TF.js, and on the server, side by side; a sound model listens to the
// microphone), and export. Plain DOM, fetch and Web Audio.
//
// The session token arrives once in the URL graft studio printed; the page keeps it in its
// origin's localStorage and sends it as a header on every request. No cookie: a browser sends a
// host's cookies to every port of that host, so a cookie would hand the token to any other server
// on 127.0.0.1; storage is per origin, port included.
/* global tf, uPlot */

const view = document.getElementById('view');
const title = document.getElementById('project-title');

const TOKEN_KEY = 'graft-studio-token';
{
  const given = new URLSearchParams(location.search).get('token');
  if (given) {
    localStorage.setItem(TOKEN_KEY, given);
    // Out of the address bar and the history, so it is not copied along with a screenshot or a link.
    history.replaceState(null, '', location.pathname + location.hash);
  }
}
const authorised = (options = {}) => ({
  ...options,
  headers: { ...options.headers, 'x-graft-token': localStorage.getItem(TOKEN_KEY) ?? '' },
});

const api = async (path, options = {}) => {
  const r = await fetch(path, authorised(options));
  const body = r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text();
  if (!r.ok) throw new Error(body.error ?? `${r.status}`);
  return body;
};

/** A file the API serves, as an object URL (an <img src> or a link cannot send the token header). */
const blobUrl = async (path) => {
  const r = await fetch(path, authorised());
  if (!r.ok) throw new Error(`${r.status}`);
  return URL.createObjectURL(await r.blob());
};

/** An image from the API: shown when its bytes arrive. */
function apiImage(path, attrs = {}) {
  const img = el('img', attrs);
  blobUrl(path).then(
    (url) => (img.src = url),
    () => img.classList.add('missing'),
  );
  return img;
}

/** The server-sent events of `path`, read with fetch (EventSource cannot send the token header). */
async function events(path, onEvent) {
  const r = await fetch(path, authorised());
  if (!r.ok || !r.body) throw new Error(`${r.status}`);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const data = buffer
        .slice(0, end)
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      buffer = buffer.slice(end + 2);
      if (data) await onEvent(JSON.parse(data));
    }
  }
}
const json = (method, body) => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

function toast(message) {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.style.display = 'block';
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.style.display = 'none'), 4000);
}

const pct = (x) => `${(100 * x).toFixed(1)}%`;
const enc = encodeURIComponent;

// Start page ---------------------------------------------------------------------------------------

async function startPage() {
  title.textContent = '';
  const projects = await api('/api/projects');
  const name = el('input', { id: 'new-name', placeholder: 'Project name', value: '' });
  const kind = el(
    'select',
    { id: 'new-kind' },
    el('option', { value: 'image' }, 'Images'),
    el('option', { value: 'audio' }, 'Sounds'),
    el('option', { value: 'detection' }, 'Objects (boxes)'),
    el('option', { value: 'text' }, 'Texts'),
  );
  view.replaceChildren(
    el(
      'section',
      {},
      el('h2', {}, 'New project'),
      el(
        'div',
        { class: 'row' },
        name,
        kind,
        el(
          'button',
          {
            id: 'create',
            onclick: async () => {
              try {
                const p = await api('/api/projects', json('POST', { name: name.value, kind: kind.value }));
                location.hash = `#/p/${p.id}`;
              } catch (e) {
                toast(e.message);
              }
            },
          },
          'Create',
        ),
      ),
    ),
    el(
      'section',
      {},
      el('h2', {}, 'Open a project'),
      zipPicker('open-archive', 'open a project zip', '/api/archives', (p) => (location.hash = `#/p/${p.id}`)),
    ),
    el(
      'section',
      {},
      el('h2', {}, 'Projects'),
      projects.length
        ? el(
            'ul',
            { id: 'projects' },
            projects.map((p) =>
              el(
                'li',
                {},
                el('a', { href: `#/p/${p.id}` }, p.name),
                ` — ${p.kind}, ${p.classes.length} classes, ${Object.values(p.counts).reduce((a, b) => a + b, 0)} samples${p.trained ? ', trained' : ''}`,
              ),
            ),
          )
        : el('p', {}, 'No projects yet.'),
    ),
  );
}

// Project page -------------------------------------------------------------------------------------

let state = { id: null, project: null, chart: null, curves: null, browserModel: null };

async function projectPage(id) {
  state = { ...state, id, browserModel: null };
  const project = await api(`/api/projects/${enc(id)}`);
  state.project = project;
  title.textContent = `${project.name} (${project.kind})`;
  const bases = (await api('/api/bases'))[project.kind];
  view.replaceChildren(
    project.kind === 'detection' ? boxesSection(project) : dataSection(project),
    trainSection(project, bases),
    el('section', { id: 'model' }),
    el('section', { id: 'try' }),
    el('section', { id: 'export' }),
  );
  if (project.training) follow();
  else await showModel();
}

async function reload() {
  const scrollY = window.scrollY;
  await projectPage(state.id);
  window.scrollTo(0, scrollY);
}

function dataSection(project) {
  const rejected = el('div', { class: 'rejected', id: 'rejected' });
  const cards = project.classes.map((c) => classCard(project, c, rejected));
  return el(
    'section',
    { id: 'data' },
    el('h2', {}, 'Data'),
    el('div', { class: 'cards' }, cards),
    el('div', { class: 'row' }, addClassButton(project, `Class ${project.classes.length + 1}`), downloadProjectLink(project)),
    rejected,
  );
}

/** A file input that posts the zip chosen to `path` (sent as a zip whatever type the browser gives it) and hands the answer to `then`. */
function zipPicker(id, label, path, then) {
  return el('input', {
    type: 'file',
    id,
    accept: '.zip,application/zip',
    'aria-label': label,
    onchange: async (e) => {
      const file = e.target.files[0];
      if (!file) return;
      const form = new FormData();
      form.append('file', new File([file], file.name, { type: 'application/zip' }));
      try {
        await then(await api(path, { method: 'POST', body: form }));
      } catch (err) {
        toast(err.message);
      }
    },
  });
}

/** A class's name, renamed on the server when it changes (put back when the server refuses). */
function classNameInput(project, cls, attrs = {}) {
  return el('input', {
    value: cls,
    'aria-label': 'class name',
    ...attrs,
    onchange: async (e) => {
      try {
        await api(`/api/projects/${enc(project.id)}/classes/${enc(cls)}`, json('PATCH', { name: e.target.value }));
        await reload();
      } catch (err) {
        toast(err.message);
        e.target.value = cls;
      }
    },
  });
}

/** "Download the project (zip)": its project.json and samples, to open again elsewhere. */
function downloadProjectLink(project) {
  return el(
    'a',
    {
      href: '#',
      id: 'download-project',
      onclick: async (e) => {
        e.preventDefault();
        await download(`/api/projects/${enc(project.id)}/archive`, `${project.id}-project.zip`).catch((err) =>
          toast(`download failed: ${err.message}`),
        );
      },
    },
    'Download the project (zip)',
  );
}

/** "+ Add a class": a class named `name`, then the page again. */
function addClassButton(project, name) {
  return el(
    'button',
    {
      class: 'secondary',
      id: 'add-class',
      onclick: async () => {
        try {
          await api(`/api/projects/${enc(project.id)}/classes`, json('POST', { name }));
          await reload();
        } catch (e) {
          toast(e.message);
        }
      },
    },
    '+ Add a class',
  );
}

async function upload(project, cls, files, rejected) {
  const form = new FormData();
  for (const f of files) form.append('files', f, f.name);
  try {
    const r = await api(`/api/projects/${enc(project.id)}/classes/${enc(cls)}/samples`, { method: 'POST', body: form });
    rejected.replaceChildren(...r.rejected.map((x) => el('div', {}, `${x.file}: ${x.reason}`)));
    await reload();
    if (r.rejected.length) {
      document.getElementById('rejected').replaceChildren(...r.rejected.map((x) => el('div', {}, `Not added — ${x.file}: ${x.reason}`)));
    }
  } catch (e) {
    toast(e.message);
  }
}

/** Every file under a dropped folder (DataTransferItem entries), or the dropped files. */
async function droppedFiles(dataTransfer) {
  const entries = [...dataTransfer.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return [...dataTransfer.files];
  const out = [];
  const walk = async (entry) => {
    if (entry.isFile) out.push(await new Promise((res, rej) => entry.file(res, rej)));
    else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

function classCard(project, cls, rejected) {
  const nameInput = classNameInput(project, cls);
  const count = project.counts[cls] ?? 0;
  const body =
    project.kind === 'audio'
      ? el(
          'div',
          { class: 'clips' },
          (project.samples[cls] ?? []).map((f) => clipView(project, cls, f, true)),
        )
      : project.kind === 'image'
        ? el(
            'div',
            { class: 'thumbs' },
            (project.samples[cls] ?? []).map((f) =>
              el(
                'span',
                { class: 'thumb' },
                apiImage(`/api/projects/${enc(project.id)}/classes/${enc(cls)}/samples/${enc(f)}`, { alt: f, title: f }),
                el(
                  'button',
                  {
                    title: 'delete',
                    onclick: async () => {
                      await api(`/api/projects/${enc(project.id)}/classes/${enc(cls)}/samples/${enc(f)}`, { method: 'DELETE' });
                      await reload();
                    },
                  },
                  '×',
                ),
              ),
            ),
          )
        : el(
            'ul',
            { class: 'texts' },
            project.samples
              .filter((t) => t.label === cls)
              .slice(-8)
              .map((t) =>
                el(
                  'li',
                  {},
                  el('span', {}, t.text.length > 60 ? `${t.text.slice(0, 60)}…` : t.text),
                  el(
                    'button',
                    {
                      class: 'secondary',
                      onclick: async () => {
                        await api(`/api/projects/${enc(project.id)}/texts/${t.id}`, { method: 'DELETE' });
                        await reload();
                      },
                    },
                    '×',
                  ),
                ),
              ),
          );
  const picker = el('input', {
    type: 'file',
    multiple: true,
    accept: { image: 'image/*', audio: 'audio/*,.wav,.mp3,.flac,.ogg', text: '.csv,.txt,text/csv,text/plain' }[project.kind],
    'aria-label': `add ${{ image: 'images', audio: 'recordings', text: 'a CSV or text file' }[project.kind]} to ${cls}`,
    onchange: (e) => upload(project, cls, [...e.target.files], rejected),
  });
  const extra = {
    image: () => webcamButton((files) => upload(project, cls, files, rejected)),
    audio: () => recordButton(project, cls, rejected),
    text: () => textAdder(project, cls),
  }[project.kind]();
  const card = el(
    'div',
    { class: 'card', 'data-class': cls },
    el(
      'header',
      {},
      nameInput,
      el(
        'button',
        {
          class: 'secondary',
          title: 'delete class',
          onclick: async () => {
            if (!confirm(`Delete ${cls} and its ${count} samples?`)) return;
            await api(`/api/projects/${enc(project.id)}/classes/${enc(cls)}`, { method: 'DELETE' });
            await reload();
          },
        },
        'Delete',
      ),
    ),
    el('div', { class: 'count' }, `${count} ${{ image: 'images', audio: 'recordings', text: 'texts' }[project.kind]}`),
    body,
    el('div', { class: 'row' }, picker, extra),
  );
  card.addEventListener('dragover', (e) => {
    e.preventDefault();
    card.classList.add('drag');
  });
  card.addEventListener('dragleave', () => card.classList.remove('drag'));
  card.addEventListener('drop', async (e) => {
    e.preventDefault();
    card.classList.remove('drag');
    await upload(project, cls, await droppedFiles(e.dataTransfer), rejected);
  });
  return card;
}

// Sounds -------------------------------------------------------------------------------------------

/** Seconds per recorded clip: a word, and the 1.6 s window graft's speech bases hear. */
const CLIP_SECONDS = 1.6;

/** A recording as a spectrogram picture the server draws, with a button that plays it (and one that deletes it). */
function clipView(project, cls, file, deletable) {
  const path = `/api/projects/${enc(project.id)}/classes/${enc(cls)}/samples/${enc(file)}`;
  const audio = el('audio', { preload: 'none' });
  const play = el(
    'button',
    {
      class: 'secondary play',
      title: `play ${file}`,
      onclick: async () => {
        if (!audio.src) audio.src = await blobUrl(path);
        await audio.play().catch((e) => toast(`cannot play ${file}: ${e.message}`));
      },
    },
    '▶',
  );
  return el(
    'span',
    { class: 'clip', 'data-file': file },
    apiImage(`${path}/spectrogram`, { alt: `spectrogram of ${file}`, title: file }),
    play,
    audio,
    deletable
      ? el(
          'button',
          {
            title: 'delete',
            onclick: async () => {
              await api(path, { method: 'DELETE' });
              await reload();
            },
          },
          '×',
        )
      : null,
  );
}

/**
 * The microphone, captured as samples: `onLevel` hears each block's RMS level; `last(seconds)`
 * gives the most recent samples; `stop()` releases the device. A ScriptProcessorNode rather than an
 * AudioWorklet keeps the page one file with no module to load; it is deprecated but in every browser.
 */
async function microphone(onLevel) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const ctx = new AudioContext();
  const source = ctx.createMediaStreamSource(stream);
  const node = ctx.createScriptProcessor(2048, 1, 1);
  const keep = Math.ceil(6 * ctx.sampleRate);
  let chunks = [];
  let held = 0;
  node.onaudioprocess = (e) => {
    const x = new Float32Array(e.inputBuffer.getChannelData(0));
    chunks.push(x);
    held += x.length;
    while (held - chunks[0].length > keep) held -= chunks.shift().length;
    let sum = 0;
    for (const v of x) sum += v * v;
    onLevel?.(Math.sqrt(sum / x.length));
  };
  source.connect(node);
  node.connect(ctx.destination);
  return {
    sampleRate: ctx.sampleRate,
    /** Samples captured so far (up to the last 6 s). */
    held: () => held,
    last(seconds) {
      const n = Math.min(held, Math.round(seconds * ctx.sampleRate));
      const out = new Float32Array(n);
      let at = n;
      for (let i = chunks.length - 1; i >= 0 && at > 0; i--) {
        const c = chunks[i];
        const take = Math.min(at, c.length);
        out.set(c.subarray(c.length - take), at - take);
        at -= take;
      }
      return out;
    },
    reset() {
      chunks = [];
      held = 0;
    },
    async stop() {
      node.disconnect();
      source.disconnect();
      stream.getTracks().forEach((t) => t.stop());
      await ctx.close();
    },
  };
}

/** Mono samples in [-1, 1] as a 16-bit PCM WAV file. */
function wavFile(samples, sampleRate, name) {
  const view = new DataView(new ArrayBuffer(44 + 2 * samples.length));
  const text = (at, s) => [...s].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF');
  view.setUint32(4, 36 + 2 * samples.length, true);
  text(8, 'WAVEfmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, 2 * sampleRate, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, 2 * samples.length, true);
  samples.forEach((v, i) => view.setInt16(44 + 2 * i, Math.round(Math.max(-1, Math.min(1, v)) * 32767), true));
  return new File([view.buffer], name, { type: 'audio/wav' });
}

/** A level meter: the RMS level in dBFS from -60 to 0. */
function levelMeter(id) {
  const meter = el('meter', { id, min: -60, max: 0, low: -40, high: -6, value: -60, title: 'microphone level' });
  return { meter, show: (rms) => (meter.value = Math.max(-60, 20 * Math.log10(rms + 1e-9))) };
}

/** Records one clip of CLIP_SECONDS from the microphone, showing the level, and adds it to the class. */
function recordButton(project, cls, rejected) {
  const { meter, show } = levelMeter(`level-${cls}`);
  meter.hidden = true;
  const button = el(
    'button',
    {
      class: 'secondary record',
      onclick: async () => {
        button.disabled = true;
        meter.hidden = false;
        let mic;
        try {
          mic = await microphone(show);
          const need = Math.round(CLIP_SECONDS * mic.sampleRate);
          button.textContent = 'Recording…';
          while (mic.held() < need) await new Promise((r) => setTimeout(r, 50));
          const file = wavFile(mic.last(CLIP_SECONDS), mic.sampleRate, `rec-${Date.now()}.wav`);
          await mic.stop();
          mic = undefined;
          await upload(project, cls, [file], rejected);
        } catch (e) {
          toast(`microphone: ${e.message}`);
          await mic?.stop();
          button.disabled = false;
          button.textContent = `Record ${CLIP_SECONDS} s`;
          meter.hidden = true;
        }
      },
    },
    `Record ${CLIP_SECONDS} s`,
  );
  return el('span', {}, button, meter);
}

function textAdder(project, cls) {
  const area = el('textarea', { rows: 2, placeholder: 'one text per line', 'aria-label': `texts for ${cls}` });
  return el(
    'span',
    {},
    area,
    el(
      'button',
      {
        class: 'secondary',
        onclick: async () => {
          const texts = area.value.split('\n').filter((t) => t.trim());
          if (!texts.length) return;
          try {
            await api(`/api/projects/${enc(project.id)}/classes/${enc(cls)}/texts`, json('POST', { texts }));
            await reload();
          } catch (e) {
            toast(e.message);
          }
        },
      },
      'Add',
    ),
  );
}

/** Frames a held "Record" takes at most: one every BURST_MS, as Teachable Machine's hold-to-record does. */
const BURST_MS = 100;
const BURST_MAX = 60;

/** The webcam in the card: hold "Hold to record" (mouse, touch, or Space/Enter) to take a frame every 100 ms; on release they are added. */
function webcamButton(add) {
  return el(
    'button',
    {
      class: 'secondary',
      onclick: async (e) => {
        const holder = e.target.parentElement;
        try {
          const stream = await navigator.mediaDevices.getUserMedia({ video: true });
          const video = el('video', { autoplay: true, muted: true, playsinline: true });
          video.srcObject = stream;
          const stop = () => stream.getTracks().forEach((t) => t.stop());
          const frames = [];
          let timer;
          const grab = () => {
            if (frames.length >= BURST_MAX || !video.videoWidth) return;
            const canvas = el('canvas', { width: video.videoWidth, height: video.videoHeight });
            canvas.getContext('2d').drawImage(video, 0, 0);
            frames.push(new Promise((res) => canvas.toBlob(res, 'image/jpeg', 0.92)));
            hold.textContent = `Recording… ${frames.length}`;
          };
          const start = (ev) => {
            ev.preventDefault();
            if (timer) return;
            grab();
            timer = setInterval(grab, BURST_MS);
          };
          const end = async () => {
            if (!timer) return;
            clearInterval(timer);
            timer = undefined;
            const blobs = (await Promise.all(frames.splice(0))).filter(Boolean);
            const t = Date.now();
            stop();
            await add(blobs.map((b, i) => new File([b], `webcam-${t}-${String(i).padStart(2, '0')}.jpg`, { type: 'image/jpeg' })));
          };
          const hold = el(
            'button',
            {
              class: 'hold',
              onpointerdown: start,
              onpointerup: end,
              onpointerleave: end,
              onkeydown: (ev) => (ev.key === ' ' || ev.key === 'Enter') && !ev.repeat && start(ev),
              onkeyup: (ev) => (ev.key === ' ' || ev.key === 'Enter') && end(),
            },
            'Hold to record',
          );
          holder.append(video, hold, el('button', { class: 'secondary', onclick: () => (stop(), reload()) }, 'Close'));
        } catch (err) {
          toast(`webcam: ${err.message}`);
        }
      },
    },
    'Webcam',
  );
}

// Boxes (detection projects) ----------------------------------------------------------------------

/** A colour per class, so boxes of one class look alike everywhere. */
const PALETTE = ['#2d6cdf', '#e4572e', '#16a34a', '#a855f7', '#f59e0b', '#0891b2', '#db2777', '#65a30d'];
const colourOf = (classes, label) => PALETTE[Math.max(0, classes.indexOf(label)) % PALETTE.length];

/** Corner handles a selected box is resized by, as [x, y] fractions of its width and height. */
const CORNERS = [
  [0, 0],
  [1, 0],
  [0, 1],
  [1, 1],
];

function boxesSection(project) {
  const rejected = el('div', { class: 'rejected', id: 'rejected' });
  const images = project.samples;
  const add = async (files) => {
    const form = new FormData();
    for (const f of files) form.append('files', f, f.name);
    try {
      const r = await api(`/api/projects/${enc(project.id)}/images`, { method: 'POST', body: form });
      await reload();
      document.getElementById('rejected').replaceChildren(...r.rejected.map((x) => el('div', {}, `Not added — ${x.file}: ${x.reason}`)));
    } catch (e) {
      toast(e.message);
    }
  };
  const classes = el(
    'div',
    { class: 'row', id: 'box-classes' },
    'Classes: ',
    project.classes.map((c) =>
      el(
        'span',
        { class: 'chip', 'data-class': c, style: `border-color: ${colourOf(project.classes, c)}` },
        classNameInput(project, c, { size: Math.max(4, c.length) }),
        el('span', { class: 'n', title: 'boxes' }, String(project.counts[c] ?? 0)),
        el(
          'button',
          {
            class: 'secondary',
            title: `delete ${c} and its boxes`,
            onclick: async () => {
              if (!confirm(`Delete ${c} and its ${project.counts[c] ?? 0} boxes?`)) return;
              await api(`/api/projects/${enc(project.id)}/classes/${enc(c)}`, { method: 'DELETE' });
              await reload();
            },
          },
          '×',
        ),
      ),
    ),
    addClassButton(project, `class ${project.classes.length + 1}`),
  );
  const editor = el('div', { id: 'box-editor' });
  const thumbs = el(
    'div',
    { class: 'thumbs', id: 'box-images' },
    images.map((im) =>
      el(
        'span',
        {
          class: 'thumb',
          'data-file': im.file,
          title: `${im.file}: ${im.boxes.length} boxes`,
          onclick: () => boxEditor(project, im, editor, thumbs),
        },
        apiImage(`/api/projects/${enc(project.id)}/images/${enc(im.file)}`, { alt: im.file }),
        el('span', { class: 'badge' }, String(im.boxes.length)),
      ),
    ),
  );
  const picker = el('input', {
    type: 'file',
    multiple: true,
    accept: 'image/*',
    id: 'box-upload',
    'aria-label': 'add images',
    onchange: (e) => add([...e.target.files]),
  });
  const importer = zipPicker(
    'boxes-import',
    'import a COCO, VOC or YOLO data set (zip)',
    `/api/projects/${enc(project.id)}/boxes-import`,
    async (r) => {
      toast(`${r.added.length} images with their boxes added (${r.format.toUpperCase()})`);
      await reload();
      document.getElementById('rejected').replaceChildren(...r.rejected.map((x) => el('div', {}, `Not added — ${x.file}: ${x.reason}`)));
    },
  );
  const keep = state.editing && images.find((im) => im.file === state.editing);
  if (keep || images[0]) queueMicrotask(() => boxEditor(project, keep || images[0], editor, thumbs));
  return el(
    'section',
    { id: 'data' },
    el('h2', {}, 'Data'),
    classes,
    el(
      'div',
      { class: 'row' },
      picker,
      webcamButton(add),
      el('label', {}, 'Import boxes (a zip of a COCO, VOC or YOLO folder) ', importer),
      el('span', { class: 'count' }, `${images.length} images`),
    ),
    thumbs,
    editor,
    el(
      'div',
      { class: 'row' },
      el(
        'a',
        {
          href: '#',
          id: 'download-coco',
          onclick: async (e) => {
            e.preventDefault();
            await download(`/api/projects/${enc(project.id)}/annotations.json`, `${project.id}-coco.json`).catch((err) =>
              toast(err.message),
            );
          },
        },
        'Download the boxes (COCO JSON)',
      ),
      downloadProjectLink(project),
    ),
    rejected,
  );
}

/**
 * The box editor for one image: drag on empty space to draw a box of the chosen class, drag a box
 * to move it, drag a corner of the selected box to resize it; Delete removes the selected box,
 * the arrow keys nudge it (Shift: 10 px), Escape deselects; the class list relabels it. Every
 * change is saved at once (PUT, in the image's pixels).
 */
function boxEditor(project, image, holder, thumbs) {
  state.editing = image.file;
  for (const t of thumbs.querySelectorAll('.thumb')) t.classList.toggle('selected', t.dataset.file === image.file);
  const boxes = image.boxes.map((b) => ({ label: b.label, box: [...b.box] }));
  const scale = Math.min(640 / image.width, 480 / image.height);
  const canvas = el('canvas', {
    id: 'box-canvas',
    width: Math.round(image.width * scale),
    height: Math.round(image.height * scale),
    tabindex: 0,
    'data-scale': scale,
  });
  const ctx = canvas.getContext('2d');
  const label = el(
    'select',
    { id: 'box-label', 'aria-label': 'class of the box' },
    project.classes.map((c) => el('option', { value: c }, c)),
  );
  const status = el('span', { id: 'box-status' }, `${boxes.length} boxes`);
  let selected = -1;
  let drag;
  const picture = new Image();
  blobUrl(`/api/projects/${enc(project.id)}/images/${enc(image.file)}`).then((u) => {
    picture.onload = draw;
    picture.src = u;
  });
  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (picture.complete) ctx.drawImage(picture, 0, 0, canvas.width, canvas.height);
    ctx.font = '13px sans-serif';
    boxes.forEach((b, i) => {
      const [x, y, w, h] = b.box.map((v) => v * scale);
      ctx.strokeStyle = colourOf(project.classes, b.label);
      ctx.lineWidth = i === selected ? 3 : 2;
      ctx.strokeRect(x, y, w, h);
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillText(b.label, x + 3, Math.max(12, y - 3));
      if (i === selected) for (const [fx, fy] of CORNERS) ctx.fillRect(x + fx * w - 4, y + fy * h - 4, 8, 8);
    });
  }
  const save = async () => {
    status.textContent = 'saving…';
    try {
      await api(`/api/projects/${enc(project.id)}/images/${enc(image.file)}/boxes`, json('PUT', { boxes }));
      image.boxes = boxes.map((b) => ({ label: b.label, box: [...b.box] }));
      const badge = thumbs.querySelector(`.thumb[data-file="${CSS.escape(image.file)}"] .badge`);
      if (badge) badge.textContent = String(boxes.length);
      // The boxes per class, as the server counts them now.
      const { counts } = await api(`/api/projects/${enc(project.id)}`);
      for (const [c, n] of Object.entries(counts)) {
        const chip = document.querySelector(`.chip[data-class="${CSS.escape(c)}"] .n`);
        if (chip) chip.textContent = String(n);
      }
      status.textContent = `${boxes.length} boxes, saved`;
      status.dataset.saved = String(Date.now());
    } catch (e) {
      status.textContent = e.message;
    }
  };
  const at = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) / scale, (ev.clientY - r.top) / scale];
  };
  const inside = ([px, py], [x, y, w, h]) => px >= x && px <= x + w && py >= y && py <= y + h;
  canvas.addEventListener('pointerdown', (ev) => {
    canvas.focus();
    canvas.setPointerCapture(ev.pointerId);
    const p = at(ev);
    const near = 8 / scale;
    if (selected >= 0) {
      const [x, y, w, h] = boxes[selected].box;
      const corner = CORNERS.findIndex(([fx, fy]) => Math.abs(p[0] - (x + fx * w)) <= near && Math.abs(p[1] - (y + fy * h)) <= near);
      if (corner >= 0) {
        drag = { kind: 'resize', corner, from: p, box: [x, y, w, h] };
        return;
      }
    }
    const hit = boxes
      .map((b, i) => i)
      .reverse()
      .find((i) => inside(p, boxes[i].box));
    if (hit !== undefined) {
      selected = hit;
      label.value = boxes[hit].label;
      drag = { kind: 'move', from: p, box: [...boxes[hit].box] };
    } else {
      selected = -1;
      drag = { kind: 'new', from: p, to: p };
    }
    draw();
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (!drag) return;
    const p = at(ev);
    const clampX = (v) => Math.min(image.width, Math.max(0, v));
    const clampY = (v) => Math.min(image.height, Math.max(0, v));
    if (drag.kind === 'new') {
      drag.to = [clampX(p[0]), clampY(p[1])];
      draw();
      const [x0, y0] = drag.from;
      const [x1, y1] = drag.to;
      ctx.setLineDash([5, 4]);
      ctx.strokeStyle = colourOf(project.classes, label.value);
      ctx.strokeRect(Math.min(x0, x1) * scale, Math.min(y0, y1) * scale, Math.abs(x1 - x0) * scale, Math.abs(y1 - y0) * scale);
      ctx.setLineDash([]);
      return;
    }
    const [dx, dy] = [p[0] - drag.from[0], p[1] - drag.from[1]];
    const [x, y, w, h] = drag.box;
    if (drag.kind === 'move')
      boxes[selected].box = [Math.min(image.width - w, Math.max(0, x + dx)), Math.min(image.height - h, Math.max(0, y + dy)), w, h];
    else {
      // The dragged corner follows the pointer; the opposite one stays.
      const [fx, fy] = CORNERS[drag.corner];
      const xs = [x, x + w];
      const ys = [y, y + h];
      xs[fx] = clampX(xs[fx] + dx);
      ys[fy] = clampY(ys[fy] + dy);
      boxes[selected].box = [Math.min(...xs), Math.min(...ys), Math.max(1, Math.abs(xs[1] - xs[0])), Math.max(1, Math.abs(ys[1] - ys[0]))];
    }
    draw();
  });
  canvas.addEventListener('pointerup', async () => {
    if (!drag) return;
    const d = drag;
    drag = undefined;
    if (d.kind === 'new') {
      const [x0, y0] = d.from;
      const [x1, y1] = d.to;
      // A click, not a drag: no box.
      if (Math.abs(x1 - x0) * scale < 4 || Math.abs(y1 - y0) * scale < 4) return draw();
      boxes.push({ label: label.value, box: [Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0)] });
      selected = boxes.length - 1;
    }
    draw();
    await save();
  });
  canvas.addEventListener('keydown', async (ev) => {
    if (ev.key === 'Escape') {
      selected = -1;
      return draw();
    }
    if (selected < 0) return;
    const step = ev.shiftKey ? 10 : 1;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (ev.key === 'Delete' || ev.key === 'Backspace') {
      ev.preventDefault();
      boxes.splice(selected, 1);
      selected = -1;
    } else if (moves[ev.key]) {
      ev.preventDefault();
      const [x, y, w, h] = boxes[selected].box;
      const [dx, dy] = moves[ev.key];
      boxes[selected].box = [Math.min(image.width - w, Math.max(0, x + dx)), Math.min(image.height - h, Math.max(0, y + dy)), w, h];
    } else return;
    draw();
    await save();
  });
  label.addEventListener('change', async () => {
    if (selected < 0) return;
    boxes[selected].label = label.value;
    draw();
    await save();
  });
  holder.replaceChildren(
    el(
      'div',
      { class: 'row' },
      el('strong', {}, image.file),
      el('label', {}, 'Class ', label),
      status,
      el(
        'button',
        {
          class: 'secondary',
          onclick: async () => {
            if (!confirm(`Delete ${image.file} and its boxes?`)) return;
            await api(`/api/projects/${enc(project.id)}/images/${enc(image.file)}`, { method: 'DELETE' });
            state.editing = null;
            await reload();
          },
        },
        'Delete image',
      ),
    ),
    el('p', { class: 'hint' }, 'Drag to draw a box; drag a box to move it, its corners to resize it; Delete removes it, arrows nudge it.'),
    canvas,
  );
  draw();
}

/** A detector's report: COCO AP on validation and test, and the validation images drawn (truth dashed, found solid). */
function detectionReport(section, report) {
  const f = (x) => x.toFixed(3);
  section.replaceChildren(
    el('h2', {}, 'Model'),
    el(
      'p',
      { id: 'accuracy' },
      `Validation AP50 ${f(report.val.ap50)}, AP ${f(report.val.ap)} (COCO, IoU 0.50:0.95); test AP50 ${f(report.test.ap50)}, AP ${f(report.test.ap)}. Base ${report.base}, ${report.counts.train} training images, ${report.seconds.toFixed(1)} s.`,
    ),
    el(
      'h3',
      {},
      `Validation images: the boxes you drew (dashed) and what the model found with a score of ${report.drawnThreshold} or more (solid)`,
    ),
    el(
      'div',
      { class: 'gallery drawn', id: 'drawn' },
      report.drawn.map((file) => el('figure', {}, apiImage(`/api/projects/${enc(state.id)}/drawn/${enc(file)}`, { alt: file }))),
    ),
  );
}

/** Try a detector: an image chosen or taken with the webcam, its boxes found on the server and drawn here. */
function tryBoxes() {
  const section = document.getElementById('try');
  const canvas = el('canvas', { id: 'try-canvas', width: 0, height: 0 });
  const found = el('div', { id: 'try-boxes' });
  const run = async (file) => {
    found.textContent = 'Finding…';
    try {
      const form = new FormData();
      form.append('threshold', threshold.value);
      form.append('file', file, file.name || 'image.png');
      const { boxes } = await api(`/api/projects/${enc(state.id)}/predict`, { method: 'POST', body: form });
      const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
      // Fitted to 640x480, small images enlarged.
      const up = Math.min(640 / bitmap.width, 480 / bitmap.height);
      canvas.width = Math.round(bitmap.width * up);
      canvas.height = Math.round(bitmap.height * up);
      const ctx = canvas.getContext('2d');
      ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      ctx.font = '13px sans-serif';
      const classes = state.project.classes;
      for (const b of boxes) {
        const [x, y, w, h] = b.box.map((v) => v * up);
        ctx.strokeStyle = ctx.fillStyle = colourOf(classes, b.label);
        ctx.lineWidth = 2;
        ctx.strokeRect(x, y, w, h);
        ctx.fillText(`${b.label} ${pct(b.score)}`, x + 3, Math.max(12, y - 3));
      }
      found.replaceChildren(
        boxes.length
          ? `${boxes.length} found: ${boxes.map((b) => `${b.label} ${pct(b.score)}`).join(', ')}`
          : 'Nothing found above the threshold.',
      );
      found.dataset.count = String(boxes.length);
    } catch (e) {
      found.textContent = e.message;
    }
  };
  let last;
  const picker = el('input', {
    type: 'file',
    accept: 'image/*',
    id: 'try-file',
    onchange: (e) => e.target.files[0] && run((last = e.target.files[0])),
  });
  const threshold = el('input', {
    id: 'try-threshold',
    type: 'number',
    min: 0.01,
    max: 1,
    step: 0.05,
    value: 0.3,
    onchange: () => last && run(last),
  });
  section.replaceChildren(
    el('h2', {}, 'Try it'),
    el(
      'div',
      { class: 'row' },
      picker,
      webcamButton((files) => run((last = files.at(-1)))),
      el('label', {}, 'Boxes scoring at least ', threshold),
    ),
    found,
    canvas,
  );
}

// Training -----------------------------------------------------------------------------------------

function trainSection(project, bases) {
  const base = el(
    'select',
    { id: 'base' },
    bases.map((b) => el('option', { value: b }, b)),
  );
  const field = (id, label, attrs) => el('label', {}, `${label} `, el('input', { id, type: 'number', ...attrs }));
  const rankOut = el('div', { id: 'rank' });
  const status = el('div', { id: 'status' }, project.trained ? 'Trained.' : 'Not trained yet.');
  return el(
    'section',
    { id: 'train' },
    el('h2', {}, 'Train'),
    el(
      'div',
      { class: 'row' },
      el('label', {}, 'Base ', base),
      project.kind === 'image' || project.kind === 'audio'
        ? el(
            'button',
            {
              class: 'secondary',
              id: 'rank-button',
              onclick: async () => {
                rankOut.textContent = `Scoring every base and cut on your ${project.kind === 'audio' ? 'recordings' : 'images'}…`;
                try {
                  const rows = await api(`/api/projects/${enc(project.id)}/rank`, { method: 'POST' });
                  rankOut.replaceChildren(
                    el(
                      'table',
                      {},
                      el('tr', {}, el('th', {}, 'base'), el('th', {}, 'cut'), el('th', {}, 'LogME (higher transfers better)')),
                      rows.map((r) => el('tr', {}, el('td', {}, r.base), el('td', {}, r.cut), el('td', {}, r.logme.toFixed(3)))),
                    ),
                  );
                  base.value = rows[0].base;
                } catch (e) {
                  rankOut.textContent = e.message;
                }
              },
            },
            'Which base and cut?',
          )
        : null,
    ),
    rankOut,
    el(
      'details',
      {},
      el('summary', {}, 'Advanced'),
      el(
        'div',
        { class: 'row' },
        field('per-class', 'Samples per class', { min: 1, placeholder: 'all' }),
        field('epochs', 'Epochs', { min: 1, max: 500, placeholder: 'default' }),
        field('learning-rate', 'Learning rate', { step: 'any', min: 0, placeholder: 'default' }),
        project.kind === 'image' ? field('unfreeze', 'Blocks to fine-tune', { min: 0, max: 20, value: 0 }) : null,
      ),
    ),
    el(
      'div',
      { class: 'row' },
      el('button', { id: 'train-button', onclick: () => startTraining(project) }, 'Train'),
      el(
        'button',
        {
          class: 'secondary',
          id: 'cancel-button',
          disabled: !project.training,
          onclick: async () => {
            await api(`/api/projects/${enc(project.id)}/train/cancel`, { method: 'POST' });
          },
        },
        'Cancel',
      ),
      status,
    ),
    el('div', { id: 'curves' }),
  );
}

async function startTraining(project) {
  const value = (id) => document.getElementById(id)?.value || undefined;
  try {
    await api(
      `/api/projects/${enc(project.id)}/train`,
      json('POST', {
        base: value('base'),
        perClass: value('per-class'),
        epochs: value('epochs'),
        learningRate: value('learning-rate'),
        unfreeze: value('unfreeze'),
      }),
    );
    follow();
  } catch (e) {
    toast(e.message);
  }
}

/** Draws the curves as the server streams the run's epochs. */
function follow() {
  const status = document.getElementById('status');
  const trainButton = document.getElementById('train-button');
  const cancelButton = document.getElementById('cancel-button');
  trainButton.disabled = true;
  cancelButton.disabled = false;
  const curves = document.getElementById('curves');
  const data = [[], [], [], [], []];
  let chart;
  const draw = () => {
    if (!chart) {
      curves.replaceChildren();
      chart = new uPlot(
        {
          width: Math.min(760, curves.clientWidth || 760),
          height: 240,
          scales: { x: { time: false }, acc: { range: [0, 1] } },
          axes: [
            { label: 'epoch', incrs: [1, 2, 5, 10, 20, 50, 100] },
            { label: 'loss' },
            { side: 1, scale: 'acc', label: 'accuracy', grid: { show: false } },
          ],
          series: [
            {},
            { label: 'loss', stroke: '#2d6cdf' },
            { label: 'val loss', stroke: '#2d6cdf', dash: [6, 4] },
            { label: 'accuracy', stroke: '#16a34a', scale: 'acc' },
            { label: 'val accuracy', stroke: '#16a34a', dash: [6, 4], scale: 'acc' },
          ],
        },
        data,
        curves,
      );
    } else chart.setData(data);
  };
  events(`/api/projects/${enc(state.id)}/train/events`, async (e) => {
    if (e.type === 'step') status.textContent = e.message;
    if (e.type === 'epoch') {
      data[0].push(data[0].length + 1);
      data[1].push(e.loss);
      data[2].push(e.metrics.valLoss ?? null);
      data[3].push(e.metrics.accuracy ?? null);
      data[4].push(e.metrics.valAccuracy ?? null);
      status.textContent = `${e.stage}: epoch ${e.epoch}/${e.epochs}, loss ${e.loss.toFixed(4)}`;
      draw();
    }
    if (e.type === 'done' || e.type === 'failed' || e.type === 'cancelled') {
      trainButton.disabled = false;
      cancelButton.disabled = true;
      status.textContent =
        e.type === 'done'
          ? e.report.kind === 'detection'
            ? `Trained: validation AP50 ${e.report.val.ap50.toFixed(3)}`
            : `Trained: validation accuracy ${pct(e.report.val.accuracy)}`
          : e.type === 'cancelled'
            ? 'Cancelled: the project is as it was.'
            : `Training failed: ${e.message}`;
      status.dataset.state = e.type;
      if (e.type === 'done') await showModel();
    }
  }).catch((err) => toast(`lost the training events: ${err.message}`));
}

// The trained model --------------------------------------------------------------------------------

async function showModel() {
  const section = document.getElementById('model');
  let report;
  try {
    report = await api(`/api/projects/${enc(state.id)}/report`);
  } catch {
    section.replaceChildren(el('h2', {}, 'Model'), el('p', {}, 'Train to see how the model does.'));
    document.getElementById('try').replaceChildren();
    document.getElementById('export').replaceChildren();
    return;
  }
  if (report.kind === 'detection') {
    detectionReport(section, report);
    tryBoxes();
    exportPanel();
    return;
  }
  const m = report.val;
  const max = Math.max(1, ...m.confusion.flat());
  section.replaceChildren(
    el('h2', {}, 'Model'),
    report.negativeTransfer ? el('p', { class: 'warning', id: 'negative-transfer' }, report.negativeTransfer) : '',
    el(
      'p',
      { id: 'accuracy' },
      `Validation accuracy ${pct(m.accuracy)}, macro-F1 ${m.macroF1.toFixed(3)} (${m.n} samples); test accuracy ${pct(report.test.accuracy)}. Base ${report.base}, ${report.counts.train} training samples, ${report.seconds.toFixed(1)} s.`,
    ),
    el(
      'div',
      { class: 'row' },
      el(
        'table',
        {},
        el('tr', {}, el('th', {}, 'class'), el('th', {}, 'precision'), el('th', {}, 'recall'), el('th', {}, 'F1')),
        m.perClass.map((c, i) =>
          el(
            'tr',
            {},
            el('td', {}, report.classes[i]),
            el('td', {}, pct(c.precision)),
            el('td', {}, pct(c.recall)),
            el('td', {}, c.f1.toFixed(3)),
          ),
        ),
      ),
      el(
        'table',
        { class: 'heat', id: 'confusion' },
        el(
          'tr',
          {},
          el('th', {}, 'true ↓ predicted →'),
          report.classes.map((c) => el('th', {}, c)),
        ),
        m.confusion.map((row, i) =>
          el(
            'tr',
            {},
            el('th', {}, report.classes[i]),
            row.map((v) =>
              el(
                'td',
                {
                  class: 'cell',
                  style: `background: rgba(45,108,223,${0.12 + (0.88 * v) / max}); color: ${v / max > 0.5 ? '#fff' : '#1d232b'}`,
                },
                v,
              ),
            ),
          ),
        ),
      ),
    ),
    el(
      'h3',
      {},
      report.mistakes.length ? `Validation samples it gets wrong (${report.mistakes.length})` : 'It gets every validation sample right.',
    ),
    el(
      'div',
      { class: 'gallery', id: 'mistakes' },
      report.mistakes.map((x) =>
        el(
          'figure',
          {},
          state.project.kind === 'image'
            ? apiImage(`/api/projects/${enc(state.id)}/classes/${x.sample.split('/').map(enc).join('/samples/')}`, { alt: x.sample })
            : state.project.kind === 'audio'
              ? clipView(state.project, x.sample.split('/')[0], x.sample.split('/').slice(1).join('/'), false)
              : null,
          el('figcaption', {}, `${x.sample}: is ${x.truth}, said ${x.predicted} (${pct(x.probability)})`),
        ),
      ),
    ),
  );
  tryPanel();
  exportPanel();
}

// Try it -------------------------------------------------------------------------------------------

async function browserModel() {
  if (!state.browserModel) {
    const meta = await api(`/api/projects/${enc(state.id)}/model/graft.json`);
    const model = await tf.loadLayersModel(`/api/projects/${enc(state.id)}/model/model.json`, { requestInit: authorised() });
    state.browserModel = { meta, model };
  }
  return state.browserModel;
}

/** The image as graft feeds it: resized to the base's input, scaled to [0,1], normalised per channel. */
async function browserProbabilities(file) {
  const meta = await api(`/api/projects/${enc(state.id)}/model/graft.json`);
  // An ONNX or graph base keeps its trunk beside the head: only the server can run the whole model.
  if (meta.trunk) return null;
  const { model } = await browserModel();
  const bitmap = await createImageBitmap(file);
  const { height, width, channels } = meta.input;
  const canvas = el('canvas', { width, height });
  const ctx = canvas.getContext('2d');
  // graft's 'cover': scale to fill, centre-crop the overflow; otherwise stretch to the input size.
  if (meta.resize === 'cover' || meta.resize === undefined) {
    const scale = Math.max(width / bitmap.width, height / bitmap.height);
    const [sw, sh] = [width / scale, height / scale];
    ctx.drawImage(bitmap, (bitmap.width - sw) / 2, (bitmap.height - sh) / 2, sw, sh, 0, 0, width, height);
  } else ctx.drawImage(bitmap, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const x = new Float32Array(height * width * channels);
  for (let i = 0; i < height * width; i++)
    for (let c = 0; c < channels; c++) {
      const v = channels === 1 ? 0.2126 * rgba[4 * i] + 0.7152 * rgba[4 * i + 1] + 0.0722 * rgba[4 * i + 2] : rgba[4 * i + c];
      x[i * channels + c] = (v / 255 - meta.normalize.mean[c]) / meta.normalize.std[c];
    }
  const input = tf.tensor4d(x, [1, height, width, channels]);
  const out = model.predict(input);
  const p = await out.data();
  tf.dispose([input, out]);
  return meta.labels.map((label, i) => ({ label, probability: p[i] }));
}

function bars(probabilities, id) {
  return el(
    'div',
    { class: 'bars', id },
    probabilities.map((p) =>
      el(
        'div',
        { 'data-label': p.label, 'data-probability': p.probability },
        el('span', {}, p.label),
        el('span', {}, el('div', { class: 'bar', style: `width: ${(100 * p.probability).toFixed(1)}%` })),
        el('span', {}, pct(p.probability)),
      ),
    ),
  );
}

function tryPanel() {
  const section = document.getElementById('try');
  const results = el('div', { class: 'row', id: 'try-results' });
  const run = async (file) => {
    results.textContent = 'Scoring…';
    try {
      const form = new FormData();
      form.append('file', file, file.name || 'image.png');
      const [browser, server] = await Promise.all([
        browserProbabilities(file),
        api(`/api/projects/${enc(state.id)}/predict`, { method: 'POST', body: form }),
      ]);
      const order = (list) => [...list].sort((a, b) => b.probability - a.probability);
      results.replaceChildren(
        browser
          ? el('div', {}, el('h3', {}, `In this page (TF.js, ${tf.getBackend()})`), bars(order(browser), 'browser-probabilities'))
          : el('p', {}, `This base's trunk is not TF.js layers: the page cannot run it, only the server.`),
        el('div', {}, el('h3', {}, 'On the server (graft)'), bars(order(server.probabilities), 'server-probabilities')),
      );
    } catch (e) {
      results.textContent = e.message;
    }
  };
  if (state.project.kind === 'text') {
    const input = el('input', { id: 'try-text', placeholder: 'type a text', size: 50 });
    const go = async () => {
      const server = await api(`/api/projects/${enc(state.id)}/predict`, json('POST', { text: input.value }));
      results.replaceChildren(el('div', {}, el('h3', {}, 'On the server (graft)'), bars(server.probabilities, 'server-probabilities')));
    };
    section.replaceChildren(el('h2', {}, 'Try it'), el('div', { class: 'row' }, input, el('button', { onclick: go }, 'Classify')), results);
    return;
  }
  if (state.project.kind === 'audio') {
    section.replaceChildren(el('h2', {}, 'Try it'), listenPanel(results), results);
    return;
  }
  const picker = el('input', {
    type: 'file',
    accept: 'image/*',
    id: 'try-file',
    onchange: (e) => e.target.files[0] && run(e.target.files[0]),
  });
  const drop = el('div', { class: 'card', id: 'try-drop' }, 'Drop an image here, choose one, or use the webcam. ', picker);
  drop.addEventListener('dragover', (e) => e.preventDefault());
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    if (e.dataTransfer.files[0]) run(e.dataTransfer.files[0]);
  });
  const cam = el(
    'button',
    {
      class: 'secondary',
      onclick: async () => {
        try {
          const stream = await navigator.mediaDevices.getUserMedia({ video: true });
          const video = el('video', { autoplay: true, muted: true, playsinline: true });
          video.srcObject = stream;
          drop.append(
            video,
            el(
              'button',
              {
                onclick: async () => {
                  const canvas = el('canvas', { width: video.videoWidth, height: video.videoHeight });
                  canvas.getContext('2d').drawImage(video, 0, 0);
                  await run(new File([await new Promise((res) => canvas.toBlob(res, 'image/png'))], 'webcam.png', { type: 'image/png' }));
                },
              },
              'Capture and score',
            ),
          );
        } catch (e) {
          toast(`webcam: ${e.message}`);
        }
      },
    },
    'Webcam',
  );
  section.replaceChildren(el('h2', {}, 'Try it'), drop, cam, results);
}

/** The server's answer for one recording (a File), as bars. */
async function scoreRecording(file, results) {
  const form = new FormData();
  form.append('file', file, file.name);
  const server = await api(`/api/projects/${enc(state.id)}/predict`, { method: 'POST', body: form });
  const order = [...server.probabilities].sort((a, b) => b.probability - a.probability);
  results.replaceChildren(
    el(
      'div',
      {},
      el('h3', { id: 'live-answer', 'data-label': order[0].label }, `${order[0].label} (${pct(order[0].probability)})`),
      bars(order, 'server-probabilities'),
    ),
  );
}

/**
 * Try a sound model: a file, or the microphone, scored on the server (a speech base's trunk runs
 * on ONNX Runtime, which the page does not have) every half second on the last CLIP_SECONDS.
 */
function listenPanel(results) {
  const { meter, show } = levelMeter('try-level');
  let mic;
  let busy = false;
  let timer;
  const stop = async () => {
    clearInterval(timer);
    await mic?.stop();
    mic = undefined;
    listen.textContent = 'Listen';
  };
  const listen = el(
    'button',
    {
      id: 'listen',
      onclick: async () => {
        if (mic) return stop();
        try {
          mic = await microphone(show);
          listen.textContent = 'Stop';
          timer = setInterval(async () => {
            if (busy || !mic || mic.held() < CLIP_SECONDS * mic.sampleRate) return;
            busy = true;
            try {
              await scoreRecording(wavFile(mic.last(CLIP_SECONDS), mic.sampleRate, 'microphone.wav'), results);
            } catch (e) {
              results.textContent = e.message;
            } finally {
              busy = false;
            }
          }, 500);
        } catch (e) {
          toast(`microphone: ${e.message}`);
          await stop();
        }
      },
    },
    'Listen',
  );
  const picker = el('input', {
    type: 'file',
    accept: 'audio/*,.wav,.mp3,.flac,.ogg',
    id: 'try-file',
    onchange: (e) => e.target.files[0] && scoreRecording(e.target.files[0], results).catch((err) => (results.textContent = err.message)),
  });
  return el('div', { class: 'card', id: 'try-listen' }, 'Listen to the microphone, or choose a recording. ', listen, meter, picker);
}

// Export -------------------------------------------------------------------------------------------

/** Saves what the API serves at `path` as `name`: fetched with the token, then saved from an object URL. */
async function download(path, name) {
  const url = await blobUrl(path);
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A link that downloads the model as a zip: fetched with the token, then saved from an object URL. */
function downloadLink(format, label, show) {
  return el(
    'a',
    {
      href: '#',
      id: `export-${format}`,
      onclick: async (e) => {
        e.preventDefault();
        try {
          await download(`/api/projects/${enc(state.id)}/export?format=${format}`, `${state.id}-${format}.zip`);
        } catch (err) {
          toast(`export failed: ${err.message}`);
        }
        await show(format);
      },
    },
    label,
  );
}

async function exportPanel() {
  const section = document.getElementById('export');
  const snippet = el('pre', { id: 'snippet' });
  const show = async (format) =>
    (snippet.textContent = (await api(`/api/snippet?format=${format}&name=${enc(state.project.name)}`)).snippet);
  section.replaceChildren(
    el('h2', {}, 'Export'),
    el('div', { class: 'row' }, downloadLink('tfjs', 'Download TF.js (zip)', show), downloadLink('onnx', 'Download ONNX (zip)', show)),
    snippet,
  );
  await show('tfjs');
}

// Routing ------------------------------------------------------------------------------------------

async function route() {
  const m = /^#\/p\/(.+)$/.exec(location.hash);
  try {
    if (m) await projectPage(decodeURIComponent(m[1]));
    else await startPage();
  } catch (e) {
    view.replaceChildren(el('section', {}, el('p', { class: 'rejected' }, e.message), el('a', { href: '#' }, 'Back to projects')));
  }
}
window.addEventListener('hashchange', route);
document.getElementById('home').addEventListener('click', (e) => {
  e.preventDefault();
  location.hash = '';
});
route();
