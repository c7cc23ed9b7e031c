// The shipper's own log: JSON lines on stdout (pino, synchronous, no worker thread), secrets
// redacted. It logs events — start, setup, rotations, errors, shutdown — never one line per record.
import { type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(level: string, nodeName: string): Logger {
  return pino({
    level,
    base: { node: nodeName },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'password',
        'apiKey',
        '*.password',
        '*.apiKey',
        'config.elasticsearch.password',
        'config.elasticsearch.apiKey',
      ],
      censor: '[redacted]',
    },
  });
}
