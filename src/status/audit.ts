// GET /audit?since=SEQ: the journal's records after SEQ, as the journal wrote them (one JSON line each, so a
// client can check every hash and the chain itself), streamed with backpressure and bounded per request.
import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Writable } from 'node:stream'
import { parseLine } from '../journal/record.ts'
import { FILE_RE, listFiles } from '../journal/scan.ts'

export const AUDIT_DEFAULT_LIMIT = 1000
export const AUDIT_MAX_LIMIT = 10_000

export interface AuditResult {
	/** records written */
	count: number
	/** seq of the last record written (the `since` of the next page), or the request's `since` when none */
	last: number
}

/**
 * Files whose records may hold seq > since. A file is named after its first seq, so a file is skipped when the
 * next one starts at or before since + 1 (all its records are <= since).
 */
export function filesAfter(files: readonly string[], since: number): string[] {
	const first = files.map((f) => Number(FILE_RE.exec(f)?.[1] ?? 0))
	return files.filter((_, i) => i + 1 >= files.length || (first[i + 1] ?? 0) > since + 1)
}

/**
 * Writes up to `limit` records with seq > since to `out`, in chain order. Lines that do not read as records (a torn
 * tail being written, a damaged line) are left out: `sigpath journal verify` is the place that reports them.
 * A keyed journal (journal.key, docs/contract.md §8) is read with its key: without it every record's HMAC would
 * read as damage and the page would come back empty, as if nothing had happened. Stops early when `signal` aborts
 * (the client went away).
 */
export async function streamAudit(
	dir: string,
	since: number,
	limit: number,
	out: Writable,
	signal: AbortSignal,
	key?: Buffer,
): Promise<AuditResult> {
	let count = 0
	let last = since
	for (const file of filesAfter(listFiles(dir), since)) {
		if (count >= limit || signal.aborted) break
		const input = createReadStream(join(dir, file), { encoding: 'utf8', highWaterMark: 64 * 1024 })
		const lines = createInterface({ input, crlfDelay: Infinity })
		try {
			for await (const line of lines) {
				if (signal.aborted) break
				// cheap pre-filter on the seq prefix before hashing the line
				const m = /^\{"seq":(\d+),/.exec(line)
				if (!m || Number(m[1]) <= since) continue
				const rec = parseLine(line, key)
				if (typeof rec === 'string') continue
				if (!out.write(`${line}\n`)) await drained(out, signal)
				count++
				last = rec.seq
				if (count >= limit) break
			}
		} finally {
			lines.close()
			input.destroy()
		}
	}
	return { count, last }
}

function drained(out: Writable, signal: AbortSignal): Promise<void> {
	return new Promise((resolve) => {
		const done = (): void => {
			out.off('drain', done)
			out.off('close', done)
			signal.removeEventListener('abort', done)
			resolve()
		}
		out.on('drain', done)
		out.on('close', done)
		signal.addEventListener('abort', done)
	})
}
