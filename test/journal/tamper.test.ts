// Tamper evidence, as properties: any change to any byte of a record is caught; random lines never read as records;
// a missing file in the middle of a journal breaks the chain at the next file.
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { parseTimeline, TimelineError } from '../../src/engine/index.ts'
import { GENESIS, Journal, listFiles, parseLine, scanDir, serialize } from '../../src/journal/index.ts'
import { boc } from '../engine/helpers.ts'

const root = mkdtempSync(join(tmpdir(), 'sigpath-tamper-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const payload = fc.jsonValue({ maxDepth: 3 })

describe('records', () => {
	it('a serialized record reads back as itself', () => {
		fc.assert(
			fc.property(fc.nat(), fc.string({ minLength: 1 }), payload, (seq, kind, p) => {
				const r = { seq: seq + 1, wall: '2026-11-21T06:00:00.000Z', mono: 5, kind, payload: p, prev: GENESIS }
				const { line, hash } = serialize(r)
				expect(parseLine(line)).toEqual({ ...r, payload: JSON.parse(JSON.stringify(p)) as unknown, hash })
			}),
		)
	})

	it('changing, inserting or deleting any one character is caught', () => {
		fc.assert(
			fc.property(
				payload,
				fc.nat(),
				fc.integer({ min: 32, max: 126 }),
				fc.constantFrom('set', 'insert', 'delete'),
				(p, at, code, op) => {
					const { line } = serialize({
						seq: 7,
						wall: '2026-11-21T06:00:00.000Z',
						mono: 5,
						kind: 'k',
						payload: p,
						prev: GENESIS,
					})
					const i = at % line.length
					const c = String.fromCharCode(code)
					const changed =
						op === 'set'
							? line.slice(0, i) + c + line.slice(i + 1)
							: op === 'insert'
								? line.slice(0, i) + c + line.slice(i)
								: line.slice(0, i) + line.slice(i + 1)
					fc.pre(changed !== line)
					// the hash covers the exact bytes: even whitespace JSON would ignore is caught
					expect(typeof parseLine(changed)).toBe('string')
				},
			),
			{ numRuns: 2000 },
		)
	})

	it('random lines never read as records, and never throw', () => {
		fc.assert(
			fc.property(fc.string({ maxLength: 300 }), (s) => {
				expect(typeof parseLine(s)).toBe('string')
			}),
		)
	})
})

describe('files', () => {
	it('a file missing in the middle breaks the chain at the first record of the next file', async () => {
		const dir = join(root, 'missing')
		const j = Journal.open({ dir, rotateBytes: 1000 })
		for (let i = 0; i < 40; i++) await j.append('k', { i, pad: 'x'.repeat(50) })
		await j.close()
		const files = listFiles(dir)
		expect(files.length).toBeGreaterThan(3)
		unlinkSync(join(dir, files[1]!))
		const s = scanDir(dir)
		expect(s.firstBad).toMatchObject({ file: files[2], line: 1 })
		expect(s.firstBad?.why).toMatch(/^seq \d+ where \d+ was expected$/)
	})
})

describe('timelines', () => {
	it('any line is a record or a TimelineError naming line 1, never another error', () => {
		fc.assert(
			fc.property(
				fc.oneof(
					fc.string(),
					fc.jsonValue().map((v) => JSON.stringify(v)),
				),
				(s) => {
					try {
						parseTimeline(s.replace(/\n/g, ' '), boc)
					} catch (err) {
						expect(err).toBeInstanceOf(TimelineError)
						expect((err as TimelineError).line).toBe(1)
					}
				},
			),
			{ numRuns: 1000 },
		)
	})
})
