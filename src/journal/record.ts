// The journal's line format and its hash chain. Pure: strings in, strings out.
//
// A record is one line of JSON, with its keys in this order:
//   {"seq":N,"wall":"ISO-8601","mono":MS,"kind":"...","payload":{...},"prev":"<64 hex>","hash":"<64 hex>"}
// - seq: 1, 2, 3... with no gap, across files;
// - wall: the wall clock when the record was made (UTC, ms); mono: CLOCK_MONOTONIC ms (never jumps);
// - prev: the `hash` of the record before (64 zeros for the first record of a journal);
// - hash: sha256 (hex) of the line's exact bytes up to and excluding `,"hash":"..."`, closed with `}`; that is, of
//   the record serialized without its hash. It covers `prev`, so each record seals the whole history before it.
// Verification works on the bytes as written (no re-serialization), so a verifier in any language can check it:
// strip the last 75 characters (`,"hash":"` + 64 hex + `"}`), append `}`, sha256, compare.
//
// Keyed chain (config `journal.key`): the hash is HMAC-SHA256 with the key instead of SHA-256, over the same bytes.
// Without the key, nobody can re-make the chain after editing a record (re-chaining everything after an edit is
// what a plain hash chain cannot prevent); verifying needs the key too. The line format is the same.
import { createHash, createHmac } from 'node:crypto'

export const GENESIS = '0'.repeat(64)
const HASH_TAIL = /,"hash":"([0-9a-f]{64})"\}$/
const TAIL_LEN = ',"hash":"'.length + 64 + '"}'.length

export interface JournalRecord {
	seq: number
	wall: string
	mono: number
	kind: string
	payload: unknown
	prev: string
	hash: string
}

export function sha256(text: string): string {
	return createHash('sha256').update(text).digest('hex')
}

/** The chain's hash of a record's body: SHA-256, or HMAC-SHA256 with `key` for a keyed chain. */
export function chainHash(body: string, key?: Buffer): string {
	return key ? createHmac('sha256', key).update(body).digest('hex') : sha256(body)
}

/** The line (without its newline) and hash of a record. */
export function serialize(r: Omit<JournalRecord, 'hash'>, key?: Buffer): { line: string; hash: string } {
	const body = `{"seq":${r.seq},"wall":${JSON.stringify(r.wall)},"mono":${r.mono},"kind":${JSON.stringify(r.kind)},"payload":${JSON.stringify(r.payload) ?? 'null'},"prev":"${r.prev}"}`
	const hash = chainHash(body, key)
	return { line: `${body.slice(0, -1)},"hash":"${hash}"}`, hash }
}

/**
 * Parses and checks one line on its own (its JSON, its fields, its own hash; with `key`, the HMAC). Returns the
 * record or why not.
 */
export function parseLine(line: string, key?: Buffer): JournalRecord | string {
	const m = HASH_TAIL.exec(line)
	if (!m) return 'no hash at the end of the line (torn or not a journal record)'
	let v: unknown
	try {
		v = JSON.parse(line)
	} catch (err) {
		return `bad JSON: ${(err as Error).message}`
	}
	if (typeof v !== 'object' || v === null) return 'not a JSON object'
	const r = v as Record<string, unknown>
	if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) return 'seq is not a positive integer'
	if (typeof r.wall !== 'string') return 'wall is not a string'
	if (typeof r.mono !== 'number') return 'mono is not a number'
	if (typeof r.kind !== 'string' || r.kind === '') return 'kind is not a string'
	if (!('payload' in r)) return 'no payload'
	if (typeof r.prev !== 'string' || !/^[0-9a-f]{64}$/.test(r.prev)) return 'prev is not a sha256 hex'
	const body = `${line.slice(0, -TAIL_LEN)}}`
	if (chainHash(body, key) !== m[1])
		return key
			? 'hash does not match the record (altered, or another key)'
			: 'hash does not match the record (altered, or a keyed journal: verify with its key)'
	return {
		seq: r.seq as number,
		wall: r.wall,
		mono: r.mono,
		kind: r.kind,
		payload: r.payload,
		prev: r.prev,
		hash: m[1],
	}
}
