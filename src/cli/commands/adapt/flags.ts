// The flags of `graft adapt`, as its two paths (images, texts) read them.
import type { Engine } from '../../../engine/frozen.js';
import type { AdaptMethod } from '../../../strategies/adapt/methods/index.js';
import type { BaseFlags, GlobalOptions } from '../../shared.js';
import type { RowFilter } from '../../../data/types.js';

export interface AdaptFlags extends GlobalOptions, BaseFlags {
  base: string;
  source: string;
  target: string;
  evalTarget?: string;
  sourceWhere: RowFilter[];
  targetWhere: RowFilter[];
  evalWhere: RowFilter[];
  targetLabels?: number;
  method: AdaptMethod;
  cut: string;
  epochs: number;
  seed: number;
  engine: Engine;
  cache: boolean;
  cacheDir?: string;
  trunk: 'frozen' | 'trainable';
  textColumn?: string;
  labelColumn?: string;
  adversary: 'reversal' | 'confusion';
}
