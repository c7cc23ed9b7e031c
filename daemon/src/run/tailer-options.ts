import type { ShipperConfig } from '../config/shipper-config.js';
import type { TailerOptions } from '../tail/tailer.js';

/** How the configuration drives the tailer, the same for shipping and for dry runs. */
export function tailerOptions(config: ShipperConfig): TailerOptions {
  return {
    includes: config.paths,
    excludes: config.exclude,
    startAt: config.startAt,
    nodeName: config.nodeName,
    record: { indexPrefix: config.indexPrefix },
    maxEventBytes: config.maxEventBytes,
    bufferBytes: 256 * 1024,
    rotateWaitMs: config.rotateWaitMs,
    releasedRetentionMs: 24 * 3600 * 1000,
  };
}
