// node:http through `require`, not an ESM import: importing it makes Node 22 and later build its
// ESM facade, which reads every export, the lazy WebSocket ones too, and those load undici (~40 ms
// of CPU at every start on Node 22, measured; the shipper never uses undici).
import { createRequire } from 'node:module';

const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');

export const { Agent, createServer, request } = http;
