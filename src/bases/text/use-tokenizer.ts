// The Universal Sentence Encoder lite tokenizer: SentencePiece-style unigram segmentation over
// the model's 8000-piece vocabulary ([piece, log-probability] pairs), the algorithm of
// tfjs-models/universal-sentence-encoder's tokenizer.
//
// Hand-written because the one library copy installed is out of reach: @energetic-ai/embeddings
// bundles that tokenizer but exports only EmbeddingsModel/initModel/distance, and reaching it
// through `new EmbeddingsModel(...).tokenizer` imports @energetic-ai/core, a bundled TF.js 4.5
// that on import switches the process-wide TF.js engine to its backend and re-registers the wasm
// kernels over graft's 4.22 ones.
//
// Same ids as that tokenizer (test/use-lite.test.ts compares them), with two differences:
// - whitespace: runs of any whitespace (newlines, tabs, repeated spaces) become one space and
//   the ends are trimmed, as the SentencePiece model the encoder was trained with does
//   (nmt_nfkc, remove_extra_whitespaces). The tfjs port turns only ' ' into '▁', so a newline
//   becomes an unknown piece and the next word loses its word-start marker.
// - speed: the trie is walked from each position in place (the port copies the rest of the
//   string at every position, quadratic in text length).

/**
 * [piece, score] in id order; ids 0-5 are reserved (0: unknown, 1-2: <s> </s>). The shipped
 * vocab.json has a null score for the seven pieces with a colon (":", "://", "▁:)", …): they
 * count as 0, as in the tfjs port's arithmetic, which makes them the most likely pieces.
 */
export type UseVocabulary = [piece: string, score: number | null][];

/** The word-start marker SentencePiece puts for a space and before the first word. */
export const WORD_START = '\u2581';
/** Id of any character no piece starts with (consecutive unknowns merge into one). */
export const UNK_ID = 0;
/** Ids below this are control symbols, never produced from text. */
export const RESERVED_IDS = 6;

interface TrieNode {
  children: Map<string, TrieNode>;
  /** The piece ending here: its id and score (-1 when only a prefix of longer pieces). */
  id: number;
  score: number;
}

const node = (): TrieNode => ({ children: new Map(), id: -1, score: 0 });

/** NFKC, whitespace runs to one space, trimmed, then '▁' for each space and before the text. */
export function normaliseForUse(text: string): string {
  const s = text.normalize('NFKC').replace(/\s+/gu, ' ').trim();
  return s ? WORD_START + s.replaceAll(' ', WORD_START) : '';
}

export class UseTokenizer {
  private readonly root = node();

  constructor(readonly vocabulary: UseVocabulary) {
    // A repeated piece keeps its last id, as in the tfjs trie (the vocabulary repeats "”5").
    for (let id = RESERVED_IDS; id < vocabulary.length; id++) {
      let at = this.root;
      for (const ch of vocabulary[id][0]) {
        let next = at.children.get(ch);
        if (!next) at.children.set(ch, (next = node()));
        at = next;
      }
      at.id = id;
      at.score = vocabulary[id][1] ?? 0;
    }
  }

  /** Piece ids of `text`, the highest-scoring segmentation of its normalised form. */
  encode(text: string): number[] {
    const chars = Array.from(normaliseForUse(text)); // code points: emoji are one symbol
    const n = chars.length;
    // Viterbi over end positions: best score of a segmentation of chars[0, e), and its last piece.
    const best = new Float64Array(n + 1).fill(-Infinity);
    const lastId = new Int32Array(n + 1);
    const lastLen = new Int32Array(n + 1);
    best[0] = 0;
    for (let start = 0; start < n; start++) {
      let matched = false;
      let at = this.root.children.get(chars[start]);
      for (let end = start + 1; at; end++) {
        if (at.id >= 0) {
          this.offer(best, lastId, lastLen, start, end - start, at.id, at.score);
          matched = true;
        }
        at = end < n ? at.children.get(chars[end]) : undefined;
      }
      if (!matched) this.offer(best, lastId, lastLen, start, 1, UNK_ID, 0);
    }
    const ids: number[] = [];
    for (let e = n; e > 0; e -= lastLen[e]) {
      if (!(lastId[e] === UNK_ID && ids[ids.length - 1] === UNK_ID)) ids.push(lastId[e]);
    }
    return ids.reverse();
  }

  /** The pieces of `ids`, '▁' marking word starts ('\uFFFD' for an unknown run). */
  pieces(ids: readonly number[]): string[] {
    return ids.map((id) => this.vocabulary[id][0]);
  }

  /**
   * Ties go to the later start (the shorter last piece), as in the tfjs port, which visits
   * starts in increasing order and keeps a candidate scoring ≥ the best so far.
   */
  private offer(best: Float64Array, lastId: Int32Array, lastLen: Int32Array, start: number, len: number, id: number, score: number): void {
    const end = start + len;
    const total = best[start] + score;
    if (total >= best[end]) {
      best[end] = total;
      lastId[end] = id;
      lastLen[end] = len;
    }
  }
}
