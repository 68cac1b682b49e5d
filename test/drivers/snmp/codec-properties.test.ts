// fast-check properties and fuzz of the SNMP codec (drivers/snmp/codec.ts), in the style of the router codecs: whatever
// net-snmp (or a broken agent) hands over, decoding never throws, values are typed as their SMI type says, numbers
// are finite, and rules give the first match's meaning or `unknown`, never `up` or `down` on a value they cannot
// evaluate (docs/contract.md §2, §4).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
	decodeVarbind,
	evaluateRules,
	normalizeOid,
	numeric,
	ruleHolds,
	type Rule,
	type SnmpType,
	type SnmpValue,
} from '../../../drivers/snmp/codec.ts'

const NUMERIC: ReadonlySet<SnmpType> = new Set(['integer', 'counter', 'gauge', 'timeticks', 'counter64'])
const TYPES: readonly SnmpType[] = [
	'integer',
	'string',
	'oid',
	'ip',
	'counter',
	'gauge',
	'timeticks',
	'counter64',
	'opaque',
	'null',
	'missing',
]

const oidText = fc.oneof(
	fc.array(fc.nat({ max: 70_000 }), { minLength: 1, maxLength: 12 }).map((a) => a.join('.')),
	fc.array(fc.nat({ max: 70_000 }), { minLength: 1, maxLength: 12 }).map((a) => `.${a.join('.')}`),
	fc.string({ maxLength: 40 }),
)

/** what net-snmp could hand over as a value, and what it never should */
const anyValue = fc.oneof(
	fc.integer(),
	fc.double(),
	fc.bigInt(),
	fc.boolean(),
	fc.string({ maxLength: 40 }),
	fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)),
	fc.constant(null),
	fc.constant(undefined),
	fc.anything(),
)

/** RFC 1905 tags, and any other byte */
const anyTag = fc.oneof(fc.constantFrom(1, 2, 4, 5, 6, 64, 65, 66, 67, 68, 70, 128, 129, 130), fc.integer())

describe('SNMP codec: fuzz', () => {
	it('decodes any varbind without throwing, typed as its SMI type says, numbers finite', () => {
		fc.assert(
			fc.property(oidText, anyTag, anyValue, (oid, type, value) => {
				const v = decodeVarbind({ oid, type, value })
				expect(TYPES).toContain(v.type)
				expect(v.oid).toBe(normalizeOid(oid))
				if (v.value === null) return
				if (NUMERIC.has(v.type)) {
					expect(typeof v.value).toBe('number')
					expect(Number.isFinite(v.value)).toBe(true)
				} else expect(['string', 'oid', 'ip']).toContain(v.type)
			}),
			{ numRuns: 2000 },
		)
	})

	it('reads a number from any value, or null: never NaN, never infinite', () => {
		fc.assert(
			fc.property(
				fc.constantFrom(...TYPES),
				fc.oneof(fc.string({ maxLength: 400 }), fc.double(), fc.constant(null)),
				(type, value) => {
					const n = numeric({ oid: '1.2.0', type, value })
					if (n !== null) expect(Number.isFinite(n)).toBe(true)
				},
			),
			{ numRuns: 2000 },
		)
		// 400 digits are a number too large to mean anything: null, not Infinity
		expect(numeric({ oid: '1', type: 'string', value: '9'.repeat(400) })).toBeNull()
		expect(numeric({ oid: '1', type: 'integer', value: Number.NaN })).toBeNull()
	})
})

describe('SNMP codec: properties', () => {
	it('Counter64 round-trips from net-snmp big-endian buffers of 1-8 bytes', () => {
		fc.assert(
			fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (n) => {
				const bytes = Buffer.alloc(8)
				bytes.writeBigUInt64BE(n)
				const first = bytes.findIndex((x) => x !== 0)
				// net-snmp sends the shortest form; an agent may send all eight bytes
				for (const form of [bytes, bytes.subarray(first === -1 ? 7 : first)]) {
					const v = decodeVarbind({ oid: '1.3.6.1.2.1.31.1.1.1.6.1', type: 70, value: form })
					expect(v).toEqual({ oid: '1.3.6.1.2.1.31.1.1.1.6.1', type: 'counter64', value: Number(n) })
				}
			}),
		)
	})

	it('reads a decimal string as the number it writes (agents that report "-2.5")', () => {
		fc.assert(
			fc.property(fc.integer({ min: -1e9, max: 1e9 }), fc.nat({ max: 999 }), fc.boolean(), (i, frac, pad) => {
				const text = `${i}.${String(frac).padStart(3, '0')}`
				const v: SnmpValue = { oid: '1', type: 'string', value: pad ? `  ${text} ` : text }
				expect(numeric(v)).toBe(Number(text))
			}),
		)
	})

	const op = fc.constantFrom<Rule['op']>('eq', 'ne', 'lt', 'le', 'gt', 'ge')
	const means = fc.constantFrom<Rule['means']>('up', 'down', 'degraded')
	const oid = fc.constantFrom('1.1.0', '1.2.0', '1.3.0', '1.4.0')
	const rule: fc.Arbitrary<Rule> = fc.record({
		oid,
		op,
		value: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom('LOCKED', 'UNLOCKED', '3', '')),
		means,
	})
	const value = (o: string): fc.Arbitrary<SnmpValue> =>
		fc.oneof(
			fc.integer({ min: -5, max: 5 }).map((n): SnmpValue => ({ oid: o, type: 'integer', value: n })),
			fc
				.constantFrom('LOCKED', 'UNLOCKED', '3', '-2.5', '')
				.map((s): SnmpValue => ({ oid: o, type: 'string', value: s })),
			fc.constant<SnmpValue>({ oid: o, type: 'missing', value: null }),
			fc.constant<SnmpValue>({ oid: o, type: 'null', value: null }),
			fc.constant<SnmpValue>({ oid: o, type: 'opaque', value: null }),
		)
	/** a rule cannot be evaluated on no value, a value without content, or text that is no number for a number rule */
	const unevaluable = (r: Rule, v: SnmpValue | undefined) =>
		!v ||
		v.value === null ||
		(typeof r.value === 'number' && typeof v.value === 'string' && !/^\s*-?\d+(\.\d+)?\s*$/.test(v.value))
	const values = fc
		.tuple(value('1.1.0'), value('1.2.0'), value('1.3.0'), fc.boolean())
		.map(([a, b, c, dropLast]) => new Map([a, b, c].filter((v, i) => !(dropLast && i === 2)).map((v) => [v.oid, v])))

	it('gives the first holding rule its meaning; a rule it cannot evaluate before that is unknown, never up or down', () => {
		fc.assert(
			fc.property(fc.array(rule, { maxLength: 6 }), values, (rules, vals) => {
				const got = evaluateRules(rules, vals)
				const first = rules.findIndex((r) => unevaluable(r, vals.get(r.oid)) || ruleHolds(r, vals.get(r.oid)))
				if (first === -1) expect(got).toBe('up')
				else {
					const r = rules[first]!
					expect(got).toBe(unevaluable(r, vals.get(r.oid)) ? 'unknown' : r.means)
				}
				// a rule set whose every OID is unreadable can never report down (§4: only evidence reports down)
				const blind = new Map<string, SnmpValue>()
				expect(evaluateRules(rules, blind)).toBe(rules.length === 0 ? 'up' : 'unknown')
			}),
		)
	})

	it("ne and eq, lt and ge, gt and le are each other's opposites on a readable value", () => {
		const opposite: Record<Rule['op'], Rule['op']> = { eq: 'ne', ne: 'eq', lt: 'ge', ge: 'lt', gt: 'le', le: 'gt' }
		fc.assert(
			fc.property(rule, value('1.1.0'), (r, v) => {
				const here = { ...r, oid: '1.1.0' }
				if (unevaluable(r, v)) {
					expect(ruleHolds(here, v)).toBe(false)
					expect(ruleHolds({ ...here, op: opposite[r.op] }, v)).toBe(false)
				} else expect(ruleHolds({ ...here, op: opposite[r.op] }, v)).toBe(!ruleHolds(here, v))
			}),
		)
	})
})
