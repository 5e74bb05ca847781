// What speech-cnn is pre-trained on: English words that are not digits (the Speech Commands
// vocabulary without its ten digits, and ten more everyday command words), spoken by eSpeak NG's
// American English voice under variants that change its timbre, at two speeds and two pitches.
import type { Voice } from './espeak.js';

export const WORDS = [
  // Speech Commands v2 (Warden 2018) minus zero-nine.
  'yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go',
  'backward', 'forward', 'follow', 'learn', 'visual', 'bed', 'bird', 'cat', 'dog', 'happy',
  'house', 'marvin', 'sheila', 'tree', 'wow',
  // Everyday commands.
  'hello', 'start', 'open', 'close', 'light', 'music', 'water', 'apple', 'red', 'blue',
]; // prettier-ignore

/**
 * eSpeak's voice variants (espeak-ng-data/voices/!v): men, women, and a few characters. Not f2,
 * f3 or f5: measured here, they sound different from one process to the next (and sometimes call to call),
 * and pre-training would not be repeatable (test/e2e/speech-pretrain.test.ts checks every one here).
 */
export const VARIANTS = {
  train: ['m1', 'm2', 'm3', 'm4', 'm5', 'f1', 'Annie', 'linda', 'croak', 'klatt', 'Andy', 'Gene'],
  val: ['m6', 'f4'],
  test: ['m7', 'steph'],
} as const;

const SPEEDS = [135, 175];
const PITCHES = [35, 65];

/** Digits, for the synthetic accent experiment (pre-training never hears them). */
export const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** An eSpeak voice (en-us, en-gb, en-gb-scotland, …) under one split's variants: held-out variants are timbres training never heard. */
export function voicesOf(voice: string, split: keyof typeof VARIANTS): Voice[] {
  return VARIANTS[split].flatMap((variant) => SPEEDS.flatMap((speed) => PITCHES.map((pitch) => ({ voice, variant, speed, pitch }))));
}

/** The American voices of one split (pre-training's). */
export const americanVoices = (split: keyof typeof VARIANTS): Voice[] => voicesOf('en-us', split);
