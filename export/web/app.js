// Runs an exported generator (.tflite, builtin ops only) in the browser with LiteRT.js.
//
// model.json (written by `zoo export --web`) names the file, its sha256 and
// the model's contract. The file's signatures do the work: `generate` (seed ->
// uint8 image, the latent made in the graph exactly as Python makes it),
// `latents` (seed -> z) and `serving_default` (z -> image) for the walk.
// `window.zoo` exposes the same calls and the timings, for tests and benchmarks.

import {loadAndCompile, loadLiteRt, Tensor} from '@litertjs/core';

const SEED_LIMIT = 2147483647;  // seeds are integers in [0, 2^31 - 1)
const $ = (id) => document.getElementById(id);
const status = (text, error = false) => {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
};

async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function fetchChecked(card) {
  const response = await fetch(card.file);
  if (!response.ok) throw new Error(`${card.file}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  // A TFLite parser has had memory-safety bugs: load only the file the card names.
  // crypto.subtle exists in secure contexts only (https, localhost).
  if (crypto.subtle) {
    const found = await sha256Hex(bytes);
    if (found !== card.sha256) {
      throw new Error(`${card.file} is not the exported file (sha256 ${found}, the card says ${card.sha256})`);
    }
  }
  return bytes;
}

function checkSeed(seed) {
  if (!Number.isInteger(seed) || seed < 0 || seed >= SEED_LIMIT) {
    throw new Error(`seed ${seed} is outside [0, ${SEED_LIMIT}); use an integer from 0 to ${SEED_LIMIT - 1}`);
  }
}

class Generator {
  constructor(model, card) {
    this.model = model;
    this.card = card;
  }

  // Runs one signature; inputs {name: TypedArray}, each batch 1. Returns {name: TypedArray}.
  async run(signature, inputs, shapes) {
    const tensors = {};
    for (const [name, data] of Object.entries(inputs)) tensors[name] = new Tensor(data, shapes[name]);
    try {
      const outputs = await this.model.run(signature, tensors);
      const arrays = {};
      for (const [name, tensor] of Object.entries(outputs)) {
        arrays[name] = tensor.toTypedArray().slice();
        tensor.delete();
      }
      return arrays;
    } finally {
      for (const tensor of Object.values(tensors)) tensor.delete();
    }
  }

  labelInput(label) {
    if (!this.card.num_classes) return {};
    if (!Number.isInteger(label) || label < 0 || label >= this.card.num_classes) {
      throw new Error(`class ${label} is outside [0, ${this.card.num_classes})`);
    }
    return {label: new Int32Array([label])};
  }

  // uint8 pixels (H * W * C) of one seed (and class).
  async generate(seed, label = 0) {
    checkSeed(seed);
    const out = await this.run('generate', {seed: new Int32Array([seed]), ...this.labelInput(label)},
                               {seed: [1], label: [1]});
    return out.images;
  }

  async latents(seed) {
    checkSeed(seed);
    return (await this.run('latents', {seed: new Int32Array([seed])}, {seed: [1]})).z;
  }

  async decode(z, label = 0) {
    const out = await this.run('serving_default', {z: Float32Array.from(z), ...this.labelInput(label)},
                               {z: [1, ...this.card.latent_shape], label: [1]});
    return out.images;
  }
}

// Spherical interpolation, as zoo.explore.slerp: the great circle between the
// directions, the norms interpolated linearly.
function slerp(a, b, t) {
  const dot = a.reduce((sum, x, i) => sum + x * b[i], 0);
  const normA = Math.hypot(...a), normB = Math.hypot(...b);
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.max(normA * normB, 1e-12))));
  if (Math.sin(omega) < 1e-6) return a.map((x, i) => (1 - t) * x + t * b[i]);
  const norm = (1 - t) * normA + t * normB;
  const wa = Math.sin((1 - t) * omega) / Math.sin(omega) / normA;
  const wb = Math.sin(t * omega) / Math.sin(omega) / normB;
  return a.map((x, i) => (wa * x + wb * b[i]) * norm);
}

function draw(canvas, pixels, [height, width, channels]) {
  canvas.width = width;
  canvas.height = height;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) rgba[4 * p + c] = pixels[p * channels + (channels === 1 ? 0 : c)];
    rgba[4 * p + 3] = 255;
  }
  canvas.getContext('2d').putImageData(new ImageData(rgba, width, height), 0, 0);
}

async function main() {
  const timings = {};
  const start = performance.now();
  const card = await (await fetch('./model.json')).json();
  document.title = `${card.name}: generator in your browser`;
  $('title').textContent = card.name;
  $('about').innerHTML = '';
  $('about').append(
    `${card.model}, ${card.image_shape.join('×')} images, latent ${card.latent_shape.join('×')}. `,
    'Runs ', Object.assign(document.createElement('code'), {textContent: card.file}),
    ` (${card.variant}, sha256 ${card.sha256.slice(0, 12)}…) in this browser with LiteRT.js ${card.runtime}; ` +
    'nothing is sent anywhere. The same seed gives the same image as the Python package, the SavedModel ' +
    'and the .tflite file on a phone.');

  if (card.num_classes) {
    const select = $('class');
    for (let k = 0; k < card.num_classes; k++) {
      const name = card.class_names ? card.class_names[k] : `class ${k}`;
      select.append(new Option(`${k}: ${name}`, String(k)));
    }
    $('class-label').hidden = false;
  }

  await loadLiteRt('./litert/wasm/');
  const bytes = await fetchChecked(card);
  const model = await loadAndCompile(bytes, {accelerator: 'wasm'});
  const generator = new Generator(model, card);
  timings.load_ms = performance.now() - start;

  const label = () => (card.num_classes ? Number($('class').value) : 0);
  let queue = Promise.resolve();
  // One invoke at a time: the interpreter is not re-entrant.
  const serial = (work) => (queue = queue.then(work, work));

  const showSeed = () => serial(async () => {
    try {
      const t0 = performance.now();
      const pixels = await generator.generate(Number($('seed').value), label());
      timings.last_ms = performance.now() - t0;
      draw($('image'), pixels, card.image_shape);
      $('image').dataset.seed = $('seed').value;
      $('image').dataset.label = String(label());
      status(`Ready: runtime and model loaded in ${timings.load_ms.toFixed(0)} ms; ` +
             `last image ${timings.last_ms.toFixed(1)} ms.`);
    } catch (error) {
      status(String(error.message || error), true);
    }
  });

  const showWalk = () => serial(async () => {
    try {
      const a = await generator.latents(Number($('seed-a').value));
      const b = await generator.latents(Number($('seed-b').value));
      const t = Number($('walk').value) / 100;
      draw($('walk-image'), await generator.decode(slerp(Array.from(a), Array.from(b), t), label()),
           card.image_shape);
    } catch (error) {
      status(String(error.message || error), true);
    }
  });

  for (const id of ['seed', 'class']) $(id).addEventListener('input', showSeed);
  for (const id of ['seed-a', 'seed-b', 'walk', 'class']) $(id).addEventListener('input', showWalk);
  await showSeed();
  timings.first_image_ms = performance.now() - start;
  await showWalk();

  window.zoo = {
    card, timings,
    generate: (seed, cls = 0) => serial(() => generator.generate(seed, cls)),
    latents: (seed) => serial(() => generator.latents(seed)),
    decode: (z, cls = 0) => serial(() => generator.decode(z, cls)),
  };
  document.body.dataset.ready = 'true';
}

main().catch((error) => {
  status(`Cannot run the generator: ${error.message || error}`, true);
  document.body.dataset.ready = 'error';
});
