// AssemblyScript: the memory of dist/json-object-scan.wasm, shared by the line scan
// (json-object-scan.ts) and the writer of what the shipper adds to a line (document-tail.ts).
// Fixed places from BASE; the JavaScript side reads the same offsets (json-object-scan-wasm.ts).
//   +0     valueStart   i32 x 32   where each chosen member's value starts, or -1
//   +128   valueEnd     i32 x 32   where it ends (exclusive)
//   +256   valueEscaped u8  x 32   1 if it is a string with an escape in it
//   +288   closeAt      i32        the object's closing brace
//   +292   similarity   u32        set by `tail`
//   +300   shift        i32        the last scan's shift (caller's coordinates minus the memory's)
//   +304   nameCount    i32        how many members are chosen (set by setNames)
//   +512   names        (at i32, length i32) x 32, pointing into +1024
//   +1024  name bytes   1024 bytes
//   +2048  stack        256 bytes, what each open level is ({ or [)
//   +2304  name lookup  i8 x 1024: by a name's hash, the chosen member with it, -1 none, -2 several
//   +3328  actions      (raw at, raw length, fields at, fields length) i32 x 4 x 8, their bytes from +3456
//   +4096  input        INPUT_BYTES: the line
//   then   tail         TAIL_BYTES: what `tail` writes
//          stage        STAGE_BYTES: a fragment the caller gives `remember`
//          slots        two caches x SLOT_COUNT x (hash, key at, a length, b length, fragment at, fragment length) i32
//          arena        ARENA_BYTES: the caches' keys and fragments
export const BASE: i32 = (<i32>__heap_base + 63) & ~63;
export const VALUE_START: i32 = BASE;
export const VALUE_END: i32 = BASE + 128;
export const VALUE_ESCAPED: i32 = BASE + 256;
export const CLOSE_AT: i32 = BASE + 288;
export const SIMILARITY: i32 = BASE + 292;
export const SHIFT: i32 = BASE + 300;
export const NAME_COUNT: i32 = BASE + 304;
export const NAMES: i32 = BASE + 512;
export const STACK: i32 = BASE + 2048;
export const LOOKUP: i32 = BASE + 2304;
export const ACTIONS: i32 = BASE + 3328;
export const INPUT: i32 = BASE + 4096;
export const INPUT_BYTES: i32 = 1088 * 1024;
export const TAIL: i32 = INPUT + INPUT_BYTES;
export const TAIL_BYTES: i32 = 16 * 1024;
export const STAGE: i32 = TAIL + TAIL_BYTES;
export const STAGE_BYTES: i32 = 4 * 1024;
export const SLOT_COUNT: i32 = 1024;
export const SLOT_BYTES: i32 = 24;
export const SLOTS: i32 = STAGE + STAGE_BYTES;
export const ARENA: i32 = SLOTS + 2 * SLOT_COUNT * SLOT_BYTES;
export const ARENA_BYTES: i32 = 512 * 1024;
export const MEMORY_END: i32 = ARENA + ARENA_BYTES;

export const QUOTE: i32 = 0x22;
export const BACKSLASH: i32 = 0x5c;

export function byteAt(p: i32): i32 {
  return <i32>load<u8>(<usize>p);
}

export function isDigit(c: i32): bool {
  return <u32>(c - 0x30) <= 9;
}
