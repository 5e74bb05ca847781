// Tiny transformers in the Hugging Face Hub's ONNX layout, built node by node so the tests know
// every number: a ViT-shaped image model (patches → tokens → two residual layers →
// last_hidden_state, and pooler_output = tanh of the first token) and a BERT-shaped text model
// (word and type embeddings, masked, one residual layer) with a WordPiece tokenizer.json, as
// exporters from PyTorch name their nodes (`/encoder/layer.N/…`).
import { mulberry32 } from '../src/math/random.js';
import {
  encodeModel,
  FLOAT,
  floatTensor,
  int,
  int64Tensor,
  ints,
  INT64,
  node,
  valueInfo,
  type NodeProto,
  type TensorProto,
} from '../src/onnx/proto.js';

const HIDDEN = 8;
const json = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

function weights(name: string, dims: number[], rand: () => number, scale = 0.5): TensorProto {
  const n = dims.reduce((a, b) => a * b, 1);
  return floatTensor(
    name,
    dims,
    Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale),
  );
}

/** Residual layers named as torch.onnx names them: the last node of each is the layer's output. */
function layers(input: string, count: number, rand: () => number, nodes: NodeProto[], init: TensorProto[]): string {
  let x = input;
  for (let l = 0; l < count; l++) {
    const p = `/encoder/layer.${l}`;
    init.push(weights(`${p}/w`, [HIDDEN, HIDDEN], rand), weights(`${p}/b`, [HIDDEN], rand, 0.1));
    nodes.push(
      node('MatMul', [x, `${p}/w`], [`${p}/MatMul_output_0`], `${p}/MatMul`),
      node('Add', [`${p}/MatMul_output_0`, `${p}/b`], [`${p}/Add_output_0`], `${p}/Add`),
      node('Relu', [`${p}/Add_output_0`], [`${p}/Relu_output_0`], `${p}/Relu`),
      node('Add', [x, `${p}/Relu_output_0`], [`${p}/Add_1_output_0`], `${p}/Add_1`),
    );
    x = `${p}/Add_1_output_0`;
  }
  return x;
}

/** A preprocessor_config.json for 16x16 RGB, pixels/255 normalised by mean 0.5 and this std. */
export const preprocessorConfig = (std: number) =>
  json({
    do_resize: true,
    size: { height: 16, width: 16 },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [std, std, std],
  });

/** 16x16 RGB (NCHW) → 16 patch tokens of 8 → two layers → last_hidden_state [N, 16, 8], pooler_output [N, 8]. */
export function tinyVit(): Record<string, Uint8Array> {
  const rand = mulberry32(7);
  const nodes: NodeProto[] = [];
  const init: TensorProto[] = [
    weights('patch_w', [HIDDEN, 3, 4, 4], rand, 0.3),
    weights('patch_b', [HIDDEN], rand, 0.1),
    int64Tensor('tokens_shape', [3], [0, HIDDEN, 16]),
    weights('ln_scale', [HIDDEN], rand),
    int64Tensor('first', [], [0]),
  ];
  nodes.push(
    node('Conv', ['pixel_values', 'patch_w', 'patch_b'], ['patches'], '/embeddings/patch_embeddings/Conv', {
      kernel_shape: ints([4, 4]),
      strides: ints([4, 4]),
    }),
    node('Reshape', ['patches', 'tokens_shape'], ['flat'], '/embeddings/Reshape'),
    node('Transpose', ['flat'], ['tokens'], '/embeddings/Transpose', { perm: ints([0, 2, 1]) }),
  );
  const top = layers('tokens', 2, rand, nodes, init);
  nodes.push(
    node('Mul', [top, 'ln_scale'], ['last_hidden_state'], '/layernorm/Mul'),
    node('Gather', ['last_hidden_state', 'first'], ['cls'], '/pooler/Gather', { axis: int(1) }),
    node('Tanh', ['cls'], ['pooler_output'], '/pooler/Tanh'),
  );
  const graph = {
    name: 'tiny-vit',
    node: nodes,
    initializer: init,
    input: [valueInfo('pixel_values', FLOAT, [null, 3, 16, 16])],
    output: [valueInfo('last_hidden_state', FLOAT, [null, 16, HIDDEN]), valueInfo('pooler_output', FLOAT, [null, HIDDEN])],
  };
  return {
    'config.json': json({ model_type: 'vit', hidden_size: HIDDEN }),
    'preprocessor_config.json': preprocessorConfig(0.5),
    'onnx/model.onnx': encodeModel(graph, 'graft-test', '1'),
  };
}

export const TINY_BERT_WORDS = {
  sport: ['ball', 'goal', 'team', 'match', 'score', 'coach', 'league', 'kick'],
  food: ['bread', 'soup', 'apple', 'rice', 'cook', 'salt', 'cheese', 'bake'],
  both: ['the', 'a', 'was', 'good', 'we', 'very', 'today', 'and'],
};
const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'];
/** Longest text in tokens, special tokens included (tokenizer_config's model_max_length). */
export const TINY_BERT_MAX_TOKENS = 12;

/** A WordPiece tokenizer.json in the layout the `tokenizers` library writes (BERT's pieces). */
function wordPieceTokenizer(vocab: string[]) {
  const special = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const token = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map(special),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [token('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, token('[SEP]')],
      pair: [token('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, token('[SEP]'), { Sequence: { id: 'B', type_id: 1 } }, token('[SEP]')],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [SPECIAL.indexOf(t)], tokens: [t] }])),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((w, i) => [w, i])),
    },
  };
}

/**
 * input_ids, attention_mask, token_type_ids [N, T] int64 → word + type embeddings, zeroed where the
 * mask is 0 → one residual layer → last_hidden_state [N, T, 8]; a sentence-transformers pooling
 * config (mean) and a Normalize module.
 */
export function tinyBert(): Record<string, Uint8Array> {
  const vocab = [...SPECIAL, ...Object.values(TINY_BERT_WORDS).flat(), '##s'];
  const rand = mulberry32(11);
  const nodes: NodeProto[] = [];
  const init: TensorProto[] = [
    weights('word_embeddings', [vocab.length, HIDDEN], rand, 1),
    weights('type_embeddings', [2, HIDDEN], rand, 0.1),
    int64Tensor('mask_axes', [1], [2]),
  ];
  nodes.push(
    node('Gather', ['word_embeddings', 'input_ids'], ['words'], '/embeddings/word_embeddings/Gather'),
    node('Gather', ['type_embeddings', 'token_type_ids'], ['types'], '/embeddings/token_type_embeddings/Gather'),
    node('Add', ['words', 'types'], ['embedded'], '/embeddings/Add'),
    node('Cast', ['attention_mask'], ['mask_float'], '/embeddings/Cast', { to: int(FLOAT) }),
    node('Unsqueeze', ['mask_float', 'mask_axes'], ['mask3'], '/embeddings/Unsqueeze'),
    node('Mul', ['embedded', 'mask3'], ['masked'], '/embeddings/Mul'),
  );
  const top = layers('masked', 1, rand, nodes, init);
  nodes.push(node('Identity', [top], ['last_hidden_state'], '/Identity'));
  const ids = (name: string) => valueInfo(name, INT64, [null, null]);
  const graph = {
    name: 'tiny-bert',
    node: nodes,
    initializer: init,
    input: [ids('input_ids'), ids('attention_mask'), ids('token_type_ids')],
    output: [valueInfo('last_hidden_state', FLOAT, [null, null, HIDDEN])],
  };
  return {
    'config.json': json({ model_type: 'bert', hidden_size: HIDDEN, max_position_embeddings: 64 }),
    'tokenizer.json': json(wordPieceTokenizer(vocab)),
    'tokenizer_config.json': json({ model_max_length: TINY_BERT_MAX_TOKENS, pad_token: '[PAD]', do_lower_case: true }),
    '1_Pooling/config.json': json({ word_embedding_dimension: HIDDEN, pooling_mode_cls_token: false, pooling_mode_mean_tokens: true }),
    'modules.json': json([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
    ]),
    'onnx/model.onnx': encodeModel(graph, 'graft-test', '1'),
  };
}

/** A Wav2Vec2FeatureExtractor's preprocessor_config.json, as the Hub's wav2vec2 repositories have it. */
export const WAV2VEC2_PREPROCESSOR = {
  do_normalize: true,
  feature_extractor_type: 'Wav2Vec2FeatureExtractor',
  feature_size: 1,
  padding_side: 'right',
  padding_value: 0.0,
  return_attention_mask: true,
  sampling_rate: 16000,
};

/**
 * input_values [N, S] and attention_mask [N, S] (int64; the samples are multiplied by it, so a wrong
 * mask shows) → two strided 1-D convolutions with ReLU (the feature encoder, 5x then 4x) → frames
 * [N, T, 8] → one residual layer → last_hidden_state, named as torch.onnx names wav2vec2's nodes.
 */
export function tinyWav2vec2(): Record<string, Uint8Array> {
  const rand = mulberry32(13);
  const nodes: NodeProto[] = [];
  const init: TensorProto[] = [
    weights('conv0_w', [4, 1, 10], rand, 0.4),
    weights('conv0_b', [4], rand, 0.05),
    weights('conv1_w', [HIDDEN, 4, 4], rand, 0.4),
    weights('conv1_b', [HIDDEN], rand, 0.05),
    int64Tensor('channel_axis', [1], [1]),
  ];
  nodes.push(
    node('Cast', ['attention_mask'], ['mask_float'], '/Cast', { to: int(FLOAT) }),
    node('Mul', ['input_values', 'mask_float'], ['masked'], '/Mul'),
    node('Unsqueeze', ['masked', 'channel_axis'], ['wave'], '/feature_extractor/Unsqueeze'),
    node('Conv', ['wave', 'conv0_w', 'conv0_b'], ['c0'], '/feature_extractor/conv_layers.0/conv/Conv', {
      kernel_shape: ints([10]),
      strides: ints([5]),
    }),
    node('Relu', ['c0'], ['/feature_extractor/conv_layers.0/Relu_output_0'], '/feature_extractor/conv_layers.0/Relu'),
    node(
      'Conv',
      ['/feature_extractor/conv_layers.0/Relu_output_0', 'conv1_w', 'conv1_b'],
      ['c1'],
      '/feature_extractor/conv_layers.1/conv/Conv',
      {
        kernel_shape: ints([4]),
        strides: ints([4]),
      },
    ),
    node('Relu', ['c1'], ['/feature_extractor/conv_layers.1/Relu_output_0'], '/feature_extractor/conv_layers.1/Relu'),
    node('Transpose', ['/feature_extractor/conv_layers.1/Relu_output_0'], ['frames'], '/Transpose', { perm: ints([0, 2, 1]) }),
  );
  const top = layers('frames', 1, rand, nodes, init);
  nodes.push(node('Identity', [top], ['last_hidden_state'], '/Identity'));
  const graph = {
    name: 'tiny-wav2vec2',
    node: nodes,
    initializer: init,
    input: [valueInfo('input_values', FLOAT, [null, null]), valueInfo('attention_mask', INT64, [null, null])],
    output: [valueInfo('last_hidden_state', FLOAT, [null, null, HIDDEN])],
  };
  return {
    'config.json': json({ model_type: 'wav2vec2', hidden_size: HIDDEN }),
    'preprocessor_config.json': json(WAV2VEC2_PREPROCESSOR),
    'onnx/model.onnx': encodeModel(graph, 'graft-test', '1'),
  };
}
