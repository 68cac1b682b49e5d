import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeBlock, VideohubDecoder, type Block } from '../../../drivers/videohub/codec.ts'

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/videohub/${name}`, import.meta.url))

const decodeWhole = (bytes: Uint8Array): Block[] => new VideohubDecoder().push(bytes)

const decodeSplit = (bytes: Uint8Array, cuts: number[]): Block[] => {
	const d = new VideohubDecoder()
	const out: Block[] = []
	let at = 0
	for (const cut of [...cuts, bytes.length]) {
		out.push(...d.push(bytes.subarray(at, cut)))
		at = cut
	}
	return out
}

describe('Videohub codec: the manual transcripts', () => {
	const prelude = fixture('prelude.txt')

	it('decodes the initial status dump, every block the manual lists, ignoring unknown blocks and lines', () => {
		const blocks = decodeWhole(prelude)
		expect(blocks.map((b) => b.kind)).toEqual([
			'preamble',
			'device',
			'labels',
			'labels',
			'locks',
			'routing',
			'status',
			'status',
			'serial-directions',
			'alarms',
			'unknown',
			'configuration',
			'end-prelude',
		])
		expect(blocks[0]).toEqual({ kind: 'preamble', version: '2.3' })
		expect(blocks[1]).toMatchObject({
			kind: 'device',
			device: { present: 'true', model: 'Blackmagic Smart Videohub', videoInputs: 4, videoOutputs: 4 },
		})
		expect(blocks[2]).toEqual({
			kind: 'labels',
			target: 'input',
			entries: [
				{ port: 0, label: 'Cam 1' },
				{ port: 1, label: 'Fiber RX été' },
				{ port: 2, label: 'Sat IRD' },
				{ port: 3, label: '' },
			],
		})
		expect(blocks[4]).toEqual({
			kind: 'locks',
			target: 'video',
			entries: [
				{ port: 0, lock: 'U' },
				{ port: 1, lock: 'L' },
				{ port: 2, lock: 'O' },
				{ port: 3, lock: 'U' },
			],
		})
		expect(blocks[5]).toEqual({
			kind: 'routing',
			target: 'video',
			entries: [
				{ output: 0, input: 2 },
				{ output: 1, input: 1 },
				{ output: 2, input: 0 },
				{ output: 3, input: 3 },
			],
		})
		expect(blocks[6]).toMatchObject({
			kind: 'status',
			target: 'video-input',
			entries: [{ port: 0, status: 'BNC' }, { port: 1, status: 'Optical' }, {}, { port: 3, status: 'None' }],
		})
		expect(blocks[9]).toEqual({
			kind: 'alarms',
			alarms: [
				{ name: 'Fan 0', status: 'ok' },
				{ name: 'Power Supply Slot 1', status: 'fail' },
			],
		})
		expect(blocks[11]).toEqual({ kind: 'configuration', settings: [{ key: 'Take Mode', value: 'false' }] })
	})

	it('gives the same blocks fed whole, one byte at a time, and split at every offset', () => {
		for (const name of ['prelude.txt', 'dialog.txt']) {
			const bytes = fixture(name)
			const whole = decodeWhole(bytes)
			expect(whole.length).toBeGreaterThan(3)
			expect(
				decodeSplit(
					bytes,
					Array.from({ length: bytes.length - 1 }, (_, i) => i + 1),
				),
			).toEqual(whole)
			for (let cut = 0; cut <= bytes.length; cut++) expect(decodeSplit(bytes, [cut])).toEqual(whole)
		}
	})

	it('decodes the request/answer dialog of "Requesting Changes"', () => {
		expect(decodeWhole(fixture('dialog.txt'))).toEqual([
			{ kind: 'routing', target: 'video', entries: [{ output: 7, input: 2 }] },
			{ kind: 'ack' },
			{ kind: 'routing', target: 'video', entries: [{ output: 7, input: 2 }] },
			{ kind: 'locks', target: 'serial', entries: [{ port: 7, lock: 'O' }] },
			{ kind: 'nak' },
			{ kind: 'ping' },
			{ kind: 'labels', target: 'output', entries: [{ port: 6, label: 'new output label seven' }] },
		])
	})

	it('accepts CRLF line ends', () => {
		expect(decodeWhole(Buffer.from('VIDEO OUTPUT ROUTING:\r\n3 9\r\n\r\nACK\r\n\r\n'))).toEqual([
			{ kind: 'routing', target: 'video', entries: [{ output: 3, input: 9 }] },
			{ kind: 'ack' },
		])
	})
})

const label = fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ' '))
const port = fc.integer({ min: 0, max: 287 })

const routeTarget = fc.constantFrom(
	'video' as const,
	'monitoring' as const,
	'serial' as const,
	'processing' as const,
	'frame' as const,
)
const text = fc
	.string({ minLength: 1, maxLength: 30 })
	.map((s) => s.replace(/[\r\n]/g, ' ').trim())
	.filter((s) => s.length > 0)
const key = text.map((s) => s.replace(/:/g, ' ').trim()).filter((s) => s.length > 0)

const arbBlock: fc.Arbitrary<Block> = fc.oneof(
	fc.record({
		kind: fc.constant('routing' as const),
		target: routeTarget,
		entries: fc.array(fc.record({ output: port, input: port }), { minLength: 1, maxLength: 50 }),
	}),
	fc.record({
		kind: fc.constant('locks' as const),
		target: routeTarget,
		entries: fc.array(fc.record({ port, lock: fc.constantFrom('O' as const, 'L' as const, 'U' as const) }), {
			minLength: 1,
			maxLength: 50,
		}),
	}),
	fc.record({
		kind: fc.constant('labels' as const),
		target: fc.constantFrom(
			'input' as const,
			'output' as const,
			'monitoring' as const,
			'serial' as const,
			'frame' as const,
		),
		entries: fc.array(fc.record({ port, label }), { minLength: 1, maxLength: 20 }),
	}),
	fc.record({
		kind: fc.constant('status' as const),
		target: fc.constantFrom('video-input' as const, 'video-output' as const, 'serial' as const),
		entries: fc.array(fc.record({ port, status: fc.constantFrom('BNC', 'Optical', 'None', 'RS422') }), {
			minLength: 1,
			maxLength: 20,
		}),
	}),
	fc.record({
		kind: fc.constant('serial-directions' as const),
		entries: fc.array(fc.record({ port, direction: fc.constantFrom('control', 'slave', 'auto') }), {
			minLength: 1,
			maxLength: 8,
		}),
	}),
	fc.record({
		kind: fc.constant('configuration' as const),
		settings: fc.array(fc.record({ key, value: text }), { minLength: 1, maxLength: 4 }),
	}),
	fc.record({
		kind: fc.constant('alarms' as const),
		alarms: fc.array(fc.record({ name: key, status: text }), { minLength: 1, maxLength: 4 }),
	}),
	fc.record({ kind: fc.constant('preamble' as const), version: fc.constantFrom('2.3', '2.7', '2.8') }),
	fc.record({
		kind: fc.constant('device' as const),
		device: fc.record({
			present: fc.constantFrom('true', 'false', 'needs_update'),
			model: text,
			videoInputs: fc.integer({ min: 0, max: 288 }),
			videoOutputs: fc.integer({ min: 0, max: 288 }),
		}),
	}),
	fc.constant({ kind: 'ack' as const }),
	fc.constant({ kind: 'nak' as const }),
	fc.constant({ kind: 'ping' as const }),
	fc.constant({ kind: 'end-prelude' as const }),
)

describe('Videohub codec: properties', () => {
	it('round-trips any sequence of blocks, however the stream is cut', () => {
		fc.assert(
			fc.property(fc.array(arbBlock, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 6 }), (blocks, rawCuts) => {
				const bytes = Buffer.from(blocks.map(encodeBlock).join(''), 'utf8')
				const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
				expect(decodeSplit(bytes, cuts)).toEqual(blocks)
			}),
		)
	})

	it('never throws on random bytes, keeps its buffer bounded, and resyncs at the next blank line', () => {
		fc.assert(
			fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 10 }), (chunks) => {
				const d = new VideohubDecoder({ maxLineBytes: 1024, maxBlockLines: 64 })
				for (const c of chunks) {
					d.push(c)
					expect(d.bufferedBytes).toBeLessThanOrEqual(1024 + 64 * 1024)
				}
				// whatever came before, a line end, a blank line and a good block decode
				const good: Block = { kind: 'routing', target: 'video', entries: [{ output: 1, input: 2 }] }
				const out = d.push(Buffer.from(`\n\n${encodeBlock(good)}`))
				expect(out.at(-1)).toEqual(good)
			}),
		)
	})

	it('drops an over-long line with its block, then decodes the next block', () => {
		const d = new VideohubDecoder({ maxLineBytes: 100 })
		expect(d.push(Buffer.from(`INPUT LABELS:\n0 ${'x'.repeat(500)}\n1 ok\n\nPING:\n\n`))).toEqual([{ kind: 'ping' }])
		expect(d.dropped).toBe(1)
		expect(d.bufferedBytes).toBe(0)
	})

	it('encodes any whole port number and refuses, with a RangeError, every other (never a line read as another port)', () => {
		const anyNumber = fc.oneof(
			fc.nat({ max: 100_000 }),
			fc.integer({ min: -5, max: -1 }),
			fc.constantFrom(0.5, Number.NaN, Infinity, -Infinity, 2 ** 53),
		)
		fc.assert(
			fc.property(anyNumber, anyNumber, (output, input) => {
				const block: Block = { kind: 'routing', target: 'video', entries: [{ output, input }] }
				const ok = [output, input].every((n) => Number.isSafeInteger(n) && n >= 0)
				if (!ok) {
					expect(() => encodeBlock(block)).toThrow(RangeError)
					return
				}
				const d = new VideohubDecoder()
				expect(d.push(Buffer.from(encodeBlock(block)))).toEqual([block])
			}),
			{ numRuns: 500 },
		)
	})
})
