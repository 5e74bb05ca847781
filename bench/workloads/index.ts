// Registry of benchmark workloads; add a module here to add a row to `npm run bench`.
import type { Workload } from '../lib.js';
import { cnnTrain } from './cnn-train.js';
import { detectPredict } from './detect-predict.js';
import { detectTrain } from './detect-train.js';
import { headFinetune } from './head-finetune.js';
import { mobilenetV2Extract } from './mobilenet-v2-extract.js';
import { mobilenetV2Finetune } from './mobilenet-v2-finetune.js';
import { mobilenetV2Forward } from './mobilenet-v2-forward.js';
import { nanodetForward } from './nanodet-forward.js';
import { serveLoad } from './serve-load.js';
import { speechEmbed } from './speech-embed.js';
import { studioLoad } from './studio-load.js';

export const WORKLOADS: Workload[] = [
  cnnTrain,
  mobilenetV2Finetune,
  mobilenetV2Forward,
  mobilenetV2Extract,
  headFinetune,
  detectPredict,
  detectTrain,
  nanodetForward,
  serveLoad,
  speechEmbed,
  studioLoad,
];
