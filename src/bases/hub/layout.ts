// The Hub's ONNX layout, as files on disk: what loadBase checks for every spec it is given, kept
// apart from the loaders (ONNX Runtime, the Hub client, tokenizers) so that checking costs no imports.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const HUB_ONNX_FILES = ['onnx/model.onnx', 'onnx/model_quantized.onnx', 'onnx/model_int8.onnx', 'onnx/model_fp16.onnx'];
export const PREPROCESSOR = 'preprocessor_config.json';
export const TOKENIZER = 'tokenizer.json';

/** A folder in the Hub's layout (a download, or a model someone saved). */
export const isHubFolder = (dir: string): boolean =>
  existsSync(join(dir, PREPROCESSOR)) && HUB_ONNX_FILES.some((f) => existsSync(join(dir, f)));

/** A folder in the Hub's layout holding a text model (a tokenizer and an ONNX graph, no image preprocessor). */
export const isHubTextFolder = (dir: string): boolean =>
  existsSync(join(dir, TOKENIZER)) && HUB_ONNX_FILES.some((f) => existsSync(join(dir, f)));
