// Calling wasm's own kernels from inside a kernel: the kernelFuncs are invoked directly (no engine,
// no tensor tracking), so every intermediate they return must be released with backend.disposeData.
// A Scope records those intermediates and frees them all at the end, except the one handed back.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type Info = tf.TensorInfo;
export type Pair = [number, number];

// Kernels that graft replaces keep their original implementation here (captured before the
// override is registered), so a replacement can still fall back to / build on the original.
export const originals = new Map<string, tf.KernelConfig>();

const cache = new Map<string, tf.KernelFunc>();

function kernelFunc(name: string): tf.KernelFunc {
  let fn = cache.get(name);
  if (fn == null) {
    const orig = originals.get(name);
    const cfg = orig ?? tf.getKernel(name, 'wasm');
    if (cfg == null) throw new Error(`graft: wasm kernel ${name} is not registered`);
    fn = cfg.kernelFunc;
    // Only cache wasm's own kernels: graft's overrides are looked up through `originals`.
    cache.set(name, fn);
  }
  return fn;
}

export class Scope {
  private readonly owned: Info[] = [];

  constructor(readonly backend: BackendWasm) {}

  /** Run wasm kernel `name` (wasm's original implementation if graft overrides it). */
  run(name: string, inputs: Record<string, Info>, attrs: object = {}): Info {
    const out = kernelFunc(name)({
      inputs: inputs as tf.NamedTensorInfoMap,
      backend: this.backend,
      attrs: attrs as tf.NamedAttrMap,
    });
    if (Array.isArray(out)) throw new Error(`graft: wasm kernel ${name} returned several outputs`);
    this.owned.push(out);
    return out;
  }

  /** Like run, for kernels with several outputs (all owned by the scope). */
  runMulti(name: string, inputs: Record<string, Info>, attrs: object = {}): Info[] {
    const out = kernelFunc(name)({
      inputs: inputs as tf.NamedTensorInfoMap,
      backend: this.backend,
      attrs: attrs as tf.NamedAttrMap,
    });
    const outs = Array.isArray(out) ? out : [out];
    this.owned.push(...outs);
    return outs;
  }

  /** Same data, other shape: no copy, not owned (the wasm kernels read shapes from the info). */
  view(t: Info, shape: number[]): Info {
    if (tf.util.sizeFromShape(shape) !== tf.util.sizeFromShape(t.shape)) {
      throw new Error(`graft: cannot view [${t.shape}] as [${shape}]`);
    }
    return { dataId: t.dataId, shape, dtype: t.dtype };
  }

  /** Fresh output buffer on the wasm heap, owned by the scope. */
  alloc(shape: number[], dtype: tf.DataType): Info {
    const out = this.backend.makeOutput(shape, dtype);
    this.owned.push(out);
    return out;
  }

  /**
   * Hand `t` (or a view of an owned tensor) back to the engine and free everything else.
   * The engine takes over the reference the owning kernel created, so the owner is not freed.
   */
  finish(t: Info, shape: number[] = t.shape): Info {
    let kept = false;
    for (const o of this.owned) {
      if (!kept && o.dataId === t.dataId) {
        kept = true;
        continue;
      }
      this.backend.disposeData(o.dataId);
    }
    this.owned.length = 0;
    if (!kept) throw new Error('graft: kernel result must be produced inside its scope');
    return { dataId: t.dataId, shape, dtype: t.dtype };
  }

  /** Free everything (used when a kernel throws). */
  dispose(): void {
    for (const o of this.owned) this.backend.disposeData(o.dataId);
    this.owned.length = 0;
  }
}

/** Run `body` with a scope; intermediates are freed even if it throws. */
export function withScope(backend: BackendWasm, body: (s: Scope) => Info): Info {
  const s = new Scope(backend);
  try {
    return body(s);
  } catch (e) {
    s.dispose();
    throw e;
  }
}

export function pair(v: number | number[] | undefined, dflt = 1): Pair {
  if (v == null) return [dflt, dflt];
  if (typeof v === 'number') return [v, v];
  return v.length === 1 ? [v[0], v[0]] : [v[0], v[1]];
}

export function assertNHWC(dataFormat: unknown, kernel: string): void {
  if (dataFormat != null && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`graft: wasm ${kernel} supports only dataFormat NHWC (got ${String(dataFormat)})`);
  }
}
