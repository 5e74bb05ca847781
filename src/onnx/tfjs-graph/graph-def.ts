// A TF.js graph model's nodes as tensorflowjs_converter writes them: TF's GraphDef in JSON, where
// int64s are strings, byte strings base64 and lists sit under `list`. Only what the converter reads.
import type * as tf from '@tensorflow/tfjs';

interface AttrValue {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  list?: { s?: string[]; i?: (string | number)[]; f?: number[] };
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
}

export interface TfNode {
  name: string;
  op: string;
  /** Data inputs as `node` or `node:k` (control inputs `^node` dropped). */
  input: string[];
  attr: Record<string, AttrValue>;
}

/** The graph's nodes as loaded (`artifacts` is private in the typings; GraphModel.save reads it the same way). */
export function graphNodesOf(graph: tf.GraphModel): TfNode[] {
  const { artifacts } = graph as unknown as { artifacts?: tf.io.ModelArtifacts };
  const topology = artifacts?.modelTopology as { node?: Partial<TfNode>[] } | undefined;
  return (topology?.node ?? []).map((n) => ({
    name: n.name!,
    op: n.op!,
    input: (n.input ?? []).filter((i) => !i.startsWith('^')),
    attr: n.attr ?? {},
  }));
}

/** `node:0` is `node`: the name TF.js and this converter give a node's first output. */
export const tensorName = (input: string): string => input.replace(/:0$/, '');

/** The node an input reads from. */
export const producerOf = (input: string): string => input.replace(/:\d+$/, '');

const decode = (s: string) => Buffer.from(s, 'base64').toString('utf8');

export const attrString = (n: TfNode, key: string): string | undefined =>
  n.attr[key]?.s === undefined ? undefined : decode(n.attr[key].s!);
export const attrStrings = (n: TfNode, key: string): string[] => (n.attr[key]?.list?.s ?? []).map(decode);
export const attrInt = (n: TfNode, key: string, fallback = 0): number => Number(n.attr[key]?.i ?? fallback);
export const attrInts = (n: TfNode, key: string): number[] => (n.attr[key]?.list?.i ?? []).map(Number);
export const attrFloat = (n: TfNode, key: string, fallback: number): number => n.attr[key]?.f ?? fallback;
export const attrBool = (n: TfNode, key: string): boolean => n.attr[key]?.b === true;
export const attrType = (n: TfNode, key: string): string | undefined => n.attr[key]?.type;
/** A Placeholder's declared shape; -1 (or absent) where unknown. */
export const attrShape = (n: TfNode, key: string): number[] => (n.attr[key]?.shape?.dim ?? []).map((d) => Number(d.size ?? -1));
