// An image feature extractor (or, through hub/audio.ts, an audio encoder) in the Hub's ONNX layout (onnx/model.onnx, preprocessor_config.json),
// from the Hub or a local folder, as a frozen ONNX base: its preprocessing read from the model's
// own preprocessor_config.json (size or crop size, mean and std, rescaling to [0,1]).
import { withDefaults } from '../../core/options.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { usageError } from '../../core/errors.js';
import { loadOnnxBase, type OnnxBaseOptions, type OnnxPreprocessing } from '../image/onnx.js';
import type { OnnxBase } from '../types.js';
import { hubAudioBase, isAudioPreprocessor, type AudioPreprocessorConfig } from './audio.js';
import { hubFiles, parseHfSpec, type HubOptions } from './download.js';

/** The model file, full precision first: the first of these the repository has. */
import { HUB_ONNX_FILES, PREPROCESSOR } from './layout.js';

export { HUB_ONNX_FILES, isHubFolder, PREPROCESSOR } from './layout.js';

interface PreprocessorConfig {
  do_resize?: boolean;
  size?: number | { height?: number; width?: number; shortest_edge?: number };
  do_center_crop?: boolean;
  crop_size?: number | { height?: number; width?: number };
  do_rescale?: boolean;
  rescale_factor?: number;
  do_normalize?: boolean;
  image_mean?: number[];
  image_std?: number[];
}

const square = (v: number | { height?: number; width?: number; shortest_edge?: number } | undefined) =>
  v === undefined
    ? undefined
    : typeof v === 'number'
      ? { height: v, width: v }
      : v.height && v.width
        ? { height: v.height, width: v.width }
        : v.shortest_edge
          ? { height: v.shortest_edge, width: v.shortest_edge }
          : undefined;

/** What graft feeds: the crop (or resized) size, filled and centre-cropped ('cover'), pixels/255 normalised by the model's mean and std. */
export function hubPreprocessing(c: PreprocessorConfig, where: string): OnnxPreprocessing {
  if (c.do_rescale !== false && c.rescale_factor !== undefined && Math.abs(c.rescale_factor - 1 / 255) > 1e-9)
    throw usageError(`${where}: rescale_factor ${c.rescale_factor}; graft feeds pixels scaled by 1/255`);
  const size = (c.do_center_crop !== false && square(c.crop_size)) || square(c.size);
  const channels = c.image_mean?.length ?? 3;
  const normalize =
    c.do_normalize === false || !c.image_mean || !c.image_std
      ? { mean: Array(channels).fill(0), std: Array(channels).fill(1) }
      : { mean: c.image_mean, std: c.image_std };
  return { size, normalize, resize: 'cover' };
}

async function fromFiles(name: string, onnx: string, preprocessor: string, options: OnnxBaseOptions): Promise<OnnxBase> {
  const config = JSON.parse(await readFile(preprocessor, 'utf8')) as PreprocessorConfig | AudioPreprocessorConfig;
  // An audio encoder's preprocessor states a sampling rate: it hears recordings, not images.
  if (isAudioPreprocessor(config)) return hubAudioBase(name, onnx, config, options);
  const pre = hubPreprocessing(config, preprocessor);
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const base = await loadOnnxBase(onnx, withDefaults(pre, given));
  return { ...base, name, provenance: `${name}: ${base.provenance}` };
}

export async function loadHubFolderBase(dir: string, options: OnnxBaseOptions = {}): Promise<OnnxBase> {
  const onnx = HUB_ONNX_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!onnx) throw usageError(`${dir}: no ${HUB_ONNX_FILES.join(', ')}`);
  return fromFiles(dir, onnx, join(dir, PREPROCESSOR), options);
}

/** `hf:ORG/NAME[@REVISION]`: downloaded into the Hub's cache on first use, from the cache after. */
export async function loadHubBase(spec: string, options: OnnxBaseOptions & HubOptions = {}): Promise<OnnxBase> {
  const { offline, endpoint, cacheDir, ...onnxOptions } = options;
  const files = await hubFiles(parseHfSpec(spec), [PREPROCESSOR, HUB_ONNX_FILES], { offline, endpoint, cacheDir });
  return fromFiles(spec, files[HUB_ONNX_FILES[0]], files[PREPROCESSOR], onnxOptions);
}
