// Transformers (ViT, DINOv2, BERT, sentence-transformers) give a sequence, [batch, tokens, hidden],
// where a CNN gives a feature map. A cut `TENSOR:cls` takes the first token, the one ViT, DINOv2
// and BERT train to summarise the input; `TENSOR:mean` averages the tokens (over the real ones
// only when a text batch is padded: what sentence-transformers' mean pooling does). In an ONNX
// graph the pooling is a node after the tensor (pruneToCut adds it), so a saved trunk, an export
// and a served model all end in the same vector; texts pool in JavaScript, where the mask is.

export const TOKEN_POOLINGS = ['cls', 'mean'] as const;
export type TokenPooling = (typeof TOKEN_POOLINGS)[number];

/** `last_hidden_state:cls` → the tensor and how its tokens become one vector; a plain tensor name → no pooling. */
export function splitTokenCut(cut: string): { tensor: string; pooling?: TokenPooling } {
  const m = /^(.+):(cls|mean)$/.exec(cut);
  return m ? { tensor: m[1], pooling: m[2] as TokenPooling } : { tensor: cut };
}

/** The cut candidates a sequence tensor offers: its first token and its mean. */
export const tokenCuts = (tensor: string): string[] => TOKEN_POOLINGS.map((p) => `${tensor}:${p}`);

/**
 * [n, tokens, hidden] → [n, hidden]. `mask` (n × tokens, 1 for a real token) leaves padding out
 * of the mean; a row with no real token averages to zeros.
 */
export function poolTokens(
  data: Float32Array,
  dims: readonly number[],
  pooling: TokenPooling,
  mask?: ArrayLike<number>,
): { data: Float32Array; dims: number[] } {
  if (dims.length !== 3) throw new Error(`token pooling needs a [batch, tokens, hidden] tensor, got [${dims.join(', ')}]`);
  const [n, t, h] = dims;
  const out = new Float32Array(n * h);
  for (let i = 0; i < n; i++) {
    if (pooling === 'cls') {
      out.set(data.subarray(i * t * h, i * t * h + h), i * h);
      continue;
    }
    let count = 0;
    for (let j = 0; j < t; j++) {
      if (mask && !mask[i * t + j]) continue;
      count++;
      const from = (i * t + j) * h;
      for (let k = 0; k < h; k++) out[i * h + k] += data[from + k];
    }
    if (count) for (let k = 0; k < h; k++) out[i * h + k] /= count;
  }
  return { data: out, dims: [n, h] };
}
