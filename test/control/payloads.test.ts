// The `set` payload parser of docs/contract.md §5 (MQTT and POST /feeds/E/F/set, §6), fuzzed: random bytes and
// random JSON never throw and always give a command or one clear reason, one printable line of bounded length.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_PAYLOAD_BYTES, parseSetPayload, type SetCommand } from '../../src/control/payloads.ts'

const ACTIONS = ['take', 'auto', 'manual', 'lock', 'unlock'] as const

/** a reason an operator reads in a log line, an MQTT reply or an HTTP 400: one printable line */
function expectOneReason(r: ReturnType<typeof parseSetPayload>): void {
	if (r.ok) {
		expect(ACTIONS).toContain(r.command.action)
		expect(r.command.path !== undefined).toBe(r.command.action === 'take')
		if (r.command.action !== 'take') expect(r.command.force).toBeUndefined()
		return
	}
	expect(r.error.length).toBeGreaterThan(0)
	expect(r.error.length).toBeLessThanOrEqual(300)
	// no control character at all: a newline in a reason would forge a second log line
	const controls = Array.from(r.error).filter((c) => {
		const code = c.codePointAt(0)!
		return code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029
	})
	expect(controls).toEqual([])
}

const parse = (x: string | Uint8Array) => parseSetPayload(Buffer.from(x))

/** objects that look like commands: the right keys, wrong values, extra keys with any name */
const nearCommand = fc.dictionary(
	fc.oneof(
		fc.constantFrom('action', 'path', 'force', 'operator'),
		fc.string({ maxLength: 30 }),
		fc.string({ unit: 'binary', maxLength: 300 }),
	),
	fc.oneof(
		fc.constantFrom<unknown>(...ACTIONS, 'sat', 'fiber', true, false, null, 0, ''),
		fc.string({ unit: 'binary', maxLength: 80 }),
		fc.jsonValue({ maxDepth: 2 }),
	),
	{ maxKeys: 5 },
)

const validCommand: fc.Arbitrary<SetCommand> = fc.oneof(
	fc.record(
		{
			action: fc.constant('take' as const),
			path: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
			force: fc.boolean(),
			operator: fc.string({ minLength: 1, maxLength: 64 }),
		},
		{ requiredKeys: ['action', 'path'] },
	),
	fc.record(
		{
			action: fc.constantFrom('auto' as const, 'manual' as const, 'lock' as const, 'unlock' as const),
			operator: fc.string({ minLength: 1, maxLength: 64 }),
		},
		{ requiredKeys: ['action'] },
	),
)

describe('parseSetPayload: fuzz', () => {
	it('random bytes never throw and give a command or one clear reason', () => {
		fc.assert(
			fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => expectOneReason(parse(bytes))),
			{ numRuns: 3000 },
		)
	})

	it('random text, control characters and all, never throws and gives one clear reason', () => {
		fc.assert(
			fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => expectOneReason(parse(text))),
			{ numRuns: 3000 },
		)
	})

	it('random JSON never throws and gives one clear reason', () => {
		fc.assert(
			fc.property(fc.jsonValue(), (j) => expectOneReason(parse(JSON.stringify(j)))),
			{ numRuns: 2000 },
		)
	})

	it('objects that look like commands never throw and give one clear reason', () => {
		fc.assert(
			fc.property(nearCommand, (o) => expectOneReason(parse(JSON.stringify(o)))),
			{ numRuns: 3000 },
		)
	})

	it('a payload over the limit is refused unread, whatever it holds', () => {
		fc.assert(
			fc.property(fc.integer({ min: 1, max: 4096 }), fc.uint8Array({ maxLength: 16 }), (extra, head) => {
				const big = Buffer.concat([Buffer.from(head), Buffer.alloc(MAX_PAYLOAD_BYTES + extra - head.length, 0x7b)])
				expect(parseSetPayload(big)).toEqual({
					ok: false,
					error: `payload is ${big.length} bytes; at most ${MAX_PAYLOAD_BYTES} are read`,
				})
			}),
			{ numRuns: 50 },
		)
	})
})

describe('parseSetPayload: properties', () => {
	it('every valid command round-trips through JSON', () => {
		fc.assert(
			fc.property(validCommand, (c) => {
				expect(parse(JSON.stringify(c))).toEqual({ ok: true, command: c })
			}),
		)
	})

	it('an unknown key is named, printable and cut to a readable length', () => {
		expect(parse('{"action":"auto","x\\ny":1}')).toEqual({ ok: false, error: 'unknown key "x\\ny"' })
		const r = parse(JSON.stringify({ action: 'auto', ['k'.repeat(5000)]: 1 }))
		expectOneReason(r)
		expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/^unknown key "k{60}\.\.\."$/) as unknown })
	})

	it('bad JSON is named as such, in one line even when the payload spans several', () => {
		const r = parse('{"action":\n"take",\u0007')
		expectOneReason(r)
		expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/^payload is not JSON: /) as unknown })
	})

	it('names what is wrong with a command of the right shape', () => {
		expect(parse('{"action":"take"}')).toEqual({ ok: false, error: 'path: take needs a path' })
		expect(parse('{"action":"lock","path":"sat"}')).toEqual({ ok: false, error: 'path: lock takes no path' })
		expect(parse('{"action":"auto","force":true}')).toEqual({ ok: false, error: 'force: auto takes no force' })
	})
})
