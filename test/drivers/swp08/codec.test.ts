import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
	ACK_BYTES,
	encodeFrame,
	MAX_EXTENDED_NUMBER,
	MAX_GENERAL_NUMBER,
	messageData,
	NAK_BYTES,
	parseMessage,
	Swp08Decoder,
	type Swp08Event,
	type Swp08Message,
} from '../../../drivers/swp08/codec.ts'

interface Fixture {
	name: string
	hex: string
	message: Swp08Message
}
const fixtures = (
	JSON.parse(readFileSync(new URL('../../fixtures/swp08/frames.json', import.meta.url), 'utf8')) as {
		frames: Fixture[]
	}
).frames
const bytesOf = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex')

const feed = (bytes: Uint8Array, cuts: number[]): Swp08Event[] => {
	const d = new Swp08Decoder()
	const out: Swp08Event[] = []
	let at = 0
	for (const cut of [...cuts, bytes.length]) {
		out.push(...d.push(bytes.subarray(at, cut)))
		at = cut
	}
	return out
}

const messages = (events: Swp08Event[]): Swp08Message[] =>
	events.flatMap((e) => (e.type === 'frame' ? [e.message] : []))

describe('SW-P-08 codec: the worked frames of docs/operations.md', () => {
	for (const f of fixtures) {
		it(`encodes ${f.name} byte for byte`, () => {
			expect(encodeFrame(f.message).toString('hex')).toBe(bytesOf(f.hex).toString('hex'))
		})
		it(`decodes ${f.name} whole, one byte at a time, and split at every offset`, () => {
			const bytes = bytesOf(f.hex)
			expect(feed(bytes, [])).toEqual([{ type: 'frame', message: f.message, data: expect.any(Array) as unknown }])
			expect(
				messages(
					feed(
						bytes,
						Array.from({ length: bytes.length }, (_, i) => i),
					),
				),
			).toEqual([f.message])
			for (let cut = 0; cut <= bytes.length; cut++) expect(messages(feed(bytes, [cut]))).toEqual([f.message])
		})
	}

	it('decodes all the fixtures back to back with ACK and NAK between them, at every split', () => {
		const stream = Buffer.concat([...fixtures.flatMap((f) => [bytesOf(f.hex), ACK_BYTES]), NAK_BYTES])
		const want = feed(stream, [])
		expect(want.map((e) => e.type)).toEqual(['frame', 'ack', 'frame', 'ack', 'frame', 'ack', 'nak'])
		for (let cut = 0; cut <= stream.length; cut++) expect(feed(stream, [cut])).toEqual(want)
	})

	it('reports a bad checksum and a bad byte count (for a NAK), then decodes the next good frame', () => {
		const good = bytesOf(fixtures[0]!.hex)
		const badChk = Buffer.from(good)
		badChk[8] = 0xf2
		const badBtc = bytesOf('10 02 02 00 00 05 03 04 F2 10 03')
		const events = feed(Buffer.concat([badChk, badBtc, good]), [])
		expect(events.map((e) => e.type)).toEqual(['bad', 'bad', 'frame'])
		expect(events[0]).toEqual({ type: 'bad', reason: 'checksum mismatch' })
	})

	it('encodes tally dumps in byte and word form and refuses numbers the form cannot carry', () => {
		const byte: Swp08Message = {
			cmd: 'tally-dump-byte',
			matrix: 1,
			level: 2,
			extended: false,
			firstDest: 0,
			sources: [3, 16, 0],
		}
		expect(feed(encodeFrame(byte), [])).toMatchObject([{ type: 'frame', message: byte }])
		expect(() => encodeFrame({ cmd: 'connect', matrix: 0, level: 0, extended: false, dest: 1024, src: 0 })).toThrow(
			RangeError,
		)
		expect(() => encodeFrame({ ...byte, sources: [256] })).toThrow(RangeError)
	})
})

const addr = (extended: boolean) =>
	fc.record({
		matrix: fc.integer({ min: 0, max: extended ? 255 : 15 }),
		level: fc.integer({ min: 0, max: extended ? 255 : 15 }),
		extended: fc.constant(extended),
	})
const num = (extended: boolean) => fc.integer({ min: 0, max: extended ? 0xffff : 1023 })

const arbMessage: fc.Arbitrary<Swp08Message> = fc.boolean().chain((x) =>
	fc.oneof(
		fc.tuple(addr(x), num(x)).map(([a, dest]): Swp08Message => ({ cmd: 'interrogate', ...a, dest })),
		fc.tuple(addr(x), num(x), num(x)).map(([a, dest, src]): Swp08Message => ({ cmd: 'connect', ...a, dest, src })),
		fc
			.tuple(addr(x), num(x), num(x), fc.boolean(), fc.constantFrom('tally' as const, 'connected' as const))
			.map(([a, dest, src, bad, cmd]): Swp08Message => ({ cmd, ...a, dest, src, badSource: x ? false : bad })),
		addr(x).map((a): Swp08Message => ({ cmd: 'tally-dump-request', ...a })),
		fc
			.tuple(addr(x), num(x), fc.array(num(x), { maxLength: 64 }))
			.map(([a, firstDest, sources]): Swp08Message => ({ cmd: 'tally-dump-word', ...a, firstDest, sources })),
	),
)

describe('SW-P-08 codec: properties', () => {
	it('round-trips any message stream, however it is cut', () => {
		fc.assert(
			fc.property(fc.array(arbMessage, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 8 }), (msgs, raw) => {
				const bytes = Buffer.concat(msgs.map(encodeFrame))
				const cuts = [...new Set(raw.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
				expect(messages(feed(bytes, cuts))).toEqual(msgs)
			}),
		)
	})

	it('never throws on random bytes, stays bounded, and resyncs on the next good frame', () => {
		const good = bytesOf(fixtures[1]!.hex)
		fc.assert(
			fc.property(fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 8 }), (chunks) => {
				const d = new Swp08Decoder()
				for (const c of chunks) {
					d.push(c)
					expect(d.bufferedBytes).toBeLessThanOrEqual(258)
				}
				// a DLE ETX closes whatever frame the noise may have opened; the good frame then decodes
				const out = d.push(Buffer.concat([Buffer.from([0x10, 0x03]), good]))
				expect(messages(out).at(-1)).toEqual(fixtures[1]!.message)
			}),
		)
	})

	it('encodes every number its form carries and refuses, with a RangeError, every number it cannot', () => {
		// any number at all, in either form: never a frame that decodes to another message
		const anyNumber = fc.oneof(
			fc.integer({ min: -2, max: 70_000 }),
			fc.constantFrom(1023, 1024, 0xffff, 0x10000, 0.5, -0, Number.NaN, Infinity),
		)
		fc.assert(
			fc.property(
				fc.boolean(),
				fc.constantFrom('interrogate' as const, 'connect' as const, 'tally' as const),
				anyNumber,
				anyNumber,
				fc.integer({ min: -1, max: 256 }),
				(extended, cmd, dest, src, ml) => {
					const m: Swp08Message =
						cmd === 'interrogate'
							? { cmd, matrix: ml, level: 0, extended, dest }
							: cmd === 'connect'
								? { cmd, matrix: 0, level: ml, extended, dest, src }
								: { cmd, matrix: ml, level: ml, extended, dest, src, badSource: false }
					const lim = extended ? MAX_EXTENDED_NUMBER : MAX_GENERAL_NUMBER
					const fits = (n: number) => Number.isInteger(n) && n >= 0 && n <= lim
					const ok = fits(dest) && (cmd === 'interrogate' || fits(src)) && ml >= 0 && ml <= (extended ? 255 : 15)
					if (!ok) expect(() => messageData(m)).toThrow(RangeError)
					// -0 is the number 0 on the wire
					else expect(parseMessage(messageData(m))).toEqual(JSON.parse(JSON.stringify(m)))
				},
			),
			{ numRuns: 500 },
		)
	})

	it('carries 0-1023 in the general form (the DIV 128 multiplier) and 0-65535 in the extended form, no further', () => {
		const connect = (extended: boolean, dest: number, src: number): Swp08Message => ({
			cmd: 'connect',
			matrix: 0,
			level: 0,
			extended,
			dest,
			src,
		})
		// 1023 = 7 * 128 + 127: multiplier 0x77, both numbers 0x7f
		expect(messageData(connect(false, 1023, 1023))).toEqual([0x02, 0x00, 0x77, 0x7f, 0x7f])
		expect(() => messageData(connect(false, 1024, 0))).toThrow(/out of range for the general form/)
		expect(() => messageData(connect(false, 0, 1024))).toThrow(RangeError)
		expect(messageData(connect(true, 0xffff, 0x0400))).toEqual([0x82, 0x00, 0x00, 0xff, 0xff, 0x04, 0x00])
		expect(() => messageData(connect(true, 0x10000, 0))).toThrow(/out of range for the extended form/)
		expect(() => messageData(connect(true, 0, -1))).toThrow(RangeError)
		expect(() => messageData({ cmd: 'interrogate', matrix: -1, level: 0, extended: false, dest: 0 })).toThrow(
			RangeError,
		)
		const dump: Swp08Message = {
			cmd: 'tally-dump-byte',
			matrix: 0,
			level: 0,
			extended: false,
			firstDest: 0,
			sources: [-1],
		}
		expect(() => messageData(dump)).toThrow(RangeError)
	})
})
