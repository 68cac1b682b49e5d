// The HTTP request parsers of the status endpoint (src/status/server.ts: the set body through parseSetPayload, the
// percent-decoded path, the /audit query numbers), fuzzed over real requests (docs/contract.md §6): random bodies,
// paths and queries never give a 5xx, and every refusal is one clear reason, one printable line.
import { request } from 'node:http'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStatusLab, type StatusLab } from '../support/status-lab.ts'

let lab: StatusLab
beforeAll(async () => {
	lab = await startStatusLab({ token: 'parser-fuzz-token' })
})
afterAll(async () => {
	await lab.stop()
})

function send(method: string, path: string, body?: Buffer): Promise<{ status: number; body: string }> {
	const u = new URL(lab.url)
	return new Promise((resolve, reject) => {
		const req = request(
			{
				host: u.hostname,
				port: u.port,
				method,
				path,
				agent: false,
				headers: { connection: 'close', authorization: 'Bearer parser-fuzz-token' },
			},
			(res) => {
				const chunks: Buffer[] = []
				res.on('data', (c: Buffer) => chunks.push(c))
				res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
				res.on('error', reject)
			},
		)
		req.on('error', reject)
		req.end(body)
	})
}

const isControl = (c: string): boolean => {
	const code = c.codePointAt(0)!
	return code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029
}

/** a 4xx answer carries `{ error }`: one printable line of readable length */
function expectOneReason(r: { status: number; body: string }, allowed: number[]): void {
	expect(allowed).toContain(r.status)
	if (r.status < 400) return
	const { error } = JSON.parse(r.body) as { error: string }
	expect(typeof error).toBe('string')
	expect(error.length).toBeGreaterThan(0)
	expect(error.length).toBeLessThanOrEqual(400)
	expect(Array.from(error).filter(isControl)).toEqual([])
}

/** any text, percent-encoded byte by byte as a client may send it (control characters and invalid UTF-8 too) */
const encodedText = fc
	.oneof(
		// ASCII with its control characters: valid UTF-8 once decoded, so the request reaches the parsers behind decoding
		{ arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 60 }), weight: 4 },
		{ arbitrary: fc.string({ unit: 'binary', maxLength: 60 }), weight: 1 },
		{ arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a).toString('latin1')), weight: 1 },
	)
	.map((s) => [...Buffer.from(s, 'latin1')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''))

describe('status endpoint request parsers: fuzz', () => {
	it('a set body of random bytes or JSON is a command or a 400 with one reason, never a 5xx', async () => {
		// lock and manual only move nothing on the router: a take of a real path would switch the feed
		const body = fc.oneof(
			fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
			fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s)),
			fc.jsonValue({ maxDepth: 3 }).map((j) => Buffer.from(JSON.stringify(j))),
			fc
				.dictionary(
					fc.oneof(
						fc.constantFrom('action', 'path', 'force', 'operator'),
						fc.string({ unit: 'binary', maxLength: 40 }),
					),
					fc.oneof(
						fc.constantFrom<unknown>('lock', 'manual', 'take', 'nope', true, null),
						fc.string({ unit: 'binary', maxLength: 40 }),
					),
					{ maxKeys: 4 },
				)
				.map((o) => Buffer.from(JSON.stringify(o))),
		)
		await fc.assert(
			fc.asyncProperty(body, async (b) =>
				expectOneReason(await send('POST', '/feeds/ev1/feed1/set', b), [200, 400, 409]),
			),
			{ numRuns: 200 },
		)
		expect(lab.sim.routingRequests).toBe(0)
	})

	it('a set path of any percent-encoded event and feed is a 400 or a 404 with one reason', async () => {
		await fc.assert(
			fc.asyncProperty(encodedText, encodedText, async (e, f) => {
				const r = await send('POST', `/feeds/${e}/${f}/set`, Buffer.from('{"action":"lock"}'))
				expectOneReason(r, [400, 404])
			}),
			{ numRuns: 150 },
		)
	})

	it('/audit with any query is the journal or a 400 with one reason', async () => {
		const key = fc.oneof(fc.constantFrom('since', 'limit'), encodedText)
		await fc.assert(
			fc.asyncProperty(fc.array(fc.tuple(key, encodedText), { maxLength: 3 }), async (params) => {
				const q = params.map(([k, v]) => `${k}=${v}`).join('&')
				expectOneReason(await send('GET', `/audit?${q}`), [200, 400])
			}),
			{ numRuns: 150 },
		)
	})
})
