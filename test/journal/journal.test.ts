// The journal: the chain (checked with an independent sha256 of the bytes), group commit, rotation, torn tails cut
// at open, a broken chain reported and left alone, and `sigpath journal verify`.
import { createHash, createHmac } from 'node:crypto'
import {
	appendFileSync,
	fdatasync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	rmSync,
	write,
	writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.ts'
import {
	checkPayload,
	GENESIS,
	Journal,
	JournalDropped,
	listFiles,
	type JournalHealth,
	readRecords,
	scanDir,
	serialize,
} from '../../src/journal/index.ts'

const dirs: string[] = []
const tmp = (): string => {
	const d = mkdtempSync(join(tmpdir(), 'sigpath-journal-'))
	dirs.push(d)
	return d
}
afterEach(() => {
	for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const clock = () => {
	let n = 0
	return { wall: () => new Date(Date.UTC(2026, 10, 21, 6, 0, 0, n)), mono: () => n++ }
}

async function fill(dir: string, n: number, rotateBytes?: number): Promise<void> {
	const j = Journal.open({ dir, clock: clock(), ...(rotateBytes !== undefined ? { rotateBytes } : {}) })
	await Promise.all(Array.from({ length: n }, (_, i) => j.append('observation', { t: i, device: 'd', state: 'up' })))
	await j.close()
}

async function verifyCli(dir: string): Promise<{ code: number; out: string; err: string }> {
	let out = ''
	let err = ''
	const code = await main(['journal', 'verify', dir], { out: (t) => (out += t), err: (t) => (err += t) })
	return { code, out, err }
}

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
	const deadline = Date.now() + timeoutMs
	while (!cond()) {
		if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
		await new Promise((r) => setTimeout(r, 5))
	}
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean)

describe('records and chain', () => {
	it('chains every record to the one before with sha256 over the bytes without the hash', async () => {
		const dir = tmp()
		await fill(dir, 5)
		const [file] = listFiles(dir)
		const ls = lines(join(dir, file!))
		expect(ls).toHaveLength(5)
		let prev = GENESIS
		ls.forEach((line, i) => {
			const r = JSON.parse(line) as Record<string, unknown>
			expect(Object.keys(r)).toEqual(['seq', 'wall', 'mono', 'kind', 'payload', 'prev', 'hash'])
			expect(r.seq).toBe(i + 1)
			expect(r.prev).toBe(prev)
			const body = `${line.slice(0, line.lastIndexOf(',"hash":'))}}`
			expect(createHash('sha256').update(body).digest('hex')).toBe(r.hash)
			expect(r.wall).toMatch(/^2026-11-21T06:00:00\.00\dZ$/)
			prev = r.hash as string
		})
	})

	it('resolves an append only once its record is on disk, in seq order', async () => {
		const dir = tmp()
		const j = Journal.open({ dir })
		const a = await j.append('tally', { t: 0, router: 'r', output: 1, input: 2 })
		expect(a.seq).toBe(1)
		const recs = readRecords(dir)
		expect(recs.map((r) => r.hash)).toEqual([a.hash])
		await j.close()
	})

	it('groups concurrent appends into few write + fdatasync batches', async () => {
		const dir = tmp()
		const j = Journal.open({ dir })
		const acks = await Promise.all(Array.from({ length: 2000 }, (_, i) => j.append('k', { i })))
		expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1))
		expect(j.stats.records).toBe(2000)
		expect(j.stats.batches).toBeLessThan(20)
		await j.close()
		expect(scanDir(dir).firstBad).toBeNull()
	})

	it('continues the chain after a reopen', async () => {
		const dir = tmp()
		await fill(dir, 3)
		const j = Journal.open({ dir })
		expect(j.head.seq).toBe(3)
		await j.append('k', {})
		await j.close()
		const s = scanDir(dir)
		expect(s.firstBad).toBeNull()
		expect(s.last?.seq).toBe(4)
	})

	it('rejects appends after close', async () => {
		const dir = tmp()
		const j = Journal.open({ dir })
		await j.close()
		await expect(j.append('k', {})).rejects.toThrow(/closed/)
	})
})

describe('rotation', () => {
	it('starts a new file past rotateBytes; the chain continues across files', async () => {
		const dir = tmp()
		const j = Journal.open({ dir, rotateBytes: 2000 })
		for (let i = 0; i < 60; i++) await j.append('observation', { t: i, device: 'dev', state: 'up' })
		await j.close()
		const files = listFiles(dir)
		expect(files.length).toBeGreaterThan(3)
		const first2 = JSON.parse(lines(join(dir, files[1]!))[0]!) as { seq: number; prev: string }
		const last1 = JSON.parse(lines(join(dir, files[0]!)).at(-1)!) as { seq: number; hash: string }
		expect(first2.seq).toBe(last1.seq + 1)
		expect(first2.prev).toBe(last1.hash)
		expect(files[1]).toBe(`journal-${String(first2.seq).padStart(12, '0')}.jsonl`)
		const s = scanDir(dir)
		expect(s.firstBad).toBeNull()
		expect(s.records).toBe(60)
		expect((await verifyCli(dir)).code).toBe(0)
	})
})

describe('torn tail', () => {
	const tails: [string, string][] = [
		['a partial last line', '{"seq":4,"wall":"2026-11-21T06:00:00.000Z","mono":1,"kind":"k","payl'],
		['bad JSON with a newline', '{"seq":4, nonsense}\n'],
		['zeros (a power cut after the size grew)', '\0\0\0\0\0\0\0\0'],
	]
	it.each(tails)('%s: open cuts it and reports it; the acknowledged records stay', async (_n, tail) => {
		const dir = tmp()
		await fill(dir, 3)
		const file = join(dir, listFiles(dir)[0]!)
		const good = readFileSync(file)
		appendFileSync(file, tail)
		expect((await verifyCli(dir)).code).toBe(1)
		const j = Journal.open({ dir })
		expect(j.report.torn).toMatchObject({ line: 4, offset: good.length })
		expect(j.report.broken).toEqual([])
		expect(readFileSync(file).equals(good)).toBe(true)
		await j.append('k', { after: true })
		await j.close()
		expect((await verifyCli(dir)).code).toBe(0)
		expect(readRecords(dir).map((r) => r.seq)).toEqual([1, 2, 3, 4])
	})

	it('a complete line whose hash does not match, at the end, is torn too', async () => {
		const dir = tmp()
		await fill(dir, 3)
		const file = join(dir, listFiles(dir)[0]!)
		const ls = lines(file)
		writeFileSync(file, `${ls.slice(0, 2).join('\n')}\n${ls[2]!.replace('"state":"up"', '"state":"dn"')}\n`)
		const j = Journal.open({ dir })
		expect(j.report.torn).toMatchObject({ line: 3, why: expect.stringMatching(/hash does not match/) as unknown })
		expect(j.head.seq).toBe(2)
		await j.close()
	})
})

describe('broken chain', () => {
	it('an altered record in the middle is named by verify (file, line, seq, why) and left in place by open', async () => {
		const dir = tmp()
		await fill(dir, 5)
		const name = listFiles(dir)[0]!
		const file = join(dir, name)
		const ls = lines(file)
		ls[2] = ls[2]!.replace('"t":2', '"t":9')
		writeFileSync(file, `${ls.join('\n')}\n`)
		const v = await verifyCli(dir)
		expect(v.code).toBe(1)
		expect(v.out).toContain(`first bad record: ${name} line 3`)
		expect(v.out).toContain('hash does not match')
		const before = readFileSync(file)
		const j = Journal.open({ dir })
		expect(j.report.torn).toBeNull()
		expect(j.report.broken[0]).toMatchObject({ file: name, line: 3 })
		await j.append('k', {})
		await j.close()
		expect(readFileSync(file).subarray(0, before.length).equals(before)).toBe(true)
		expect((await verifyCli(dir)).code).toBe(1)
	})

	it('a deleted record breaks the chain at the next one (prev does not match)', async () => {
		const dir = tmp()
		await fill(dir, 5)
		const name = listFiles(dir)[0]!
		const file = join(dir, name)
		const ls = lines(file)
		ls.splice(1, 1)
		writeFileSync(file, `${ls.join('\n')}\n`)
		const s = scanDir(dir)
		expect(s.firstBad).toMatchObject({ file: name, line: 2, seq: 3 })
		expect(s.firstBad?.why).toMatch(/seq 3 where 2 was expected/)
	})

	it('a record re-chained after an edit still fails at the next record', async () => {
		const dir = tmp()
		await fill(dir, 4)
		const name = listFiles(dir)[0]!
		const file = join(dir, name)
		const ls = lines(file)
		// recompute the edited record's own hash: the next record's prev then no longer matches
		const r = JSON.parse(ls[1]!) as Record<string, unknown>
		const body = `{"seq":2,"wall":${JSON.stringify(r.wall)},"mono":${String(r.mono)},"kind":"observation","payload":{"t":1,"device":"d","state":"down"},"prev":"${String(r.prev)}"}`
		const hash = createHash('sha256').update(body).digest('hex')
		ls[1] = `${body.slice(0, -1)},"hash":"${hash}"}`
		writeFileSync(file, `${ls.join('\n')}\n`)
		const s = scanDir(dir)
		expect(s.firstBad).toMatchObject({ line: 3, seq: 3 })
		expect(s.firstBad?.why).toMatch(/prev does not match the hash of record 2/)
	})
})

describe('sigpath journal verify', () => {
	it('exit 0 on a good journal, 2 on a missing directory or no argument', async () => {
		const dir = tmp()
		await fill(dir, 2)
		const ok = await verifyCli(dir)
		expect(ok.code).toBe(0)
		expect(ok.out).toMatch(/ok: 2 records in 1 file, seq 2/)
		expect((await verifyCli(join(dir, 'nope'))).code).toBe(2)
		expect(await main(['journal', 'verify'], { out: () => undefined, err: () => undefined })).toBe(2)
		expect(await main(['journal', 'frobnicate', dir], { out: () => undefined, err: () => undefined })).toBe(2)
	})

	it('--json gives the first bad record', async () => {
		const dir = tmp()
		await fill(dir, 2)
		appendFileSync(join(dir, readdirSync(dir)[0]!), 'x')
		let out = ''
		const code = await main(['journal', 'verify', dir, '--json'], { out: (t) => (out += t), err: () => undefined })
		expect(code).toBe(1)
		expect(JSON.parse(out)).toMatchObject({ ok: false, records: 2, firstBad: { line: 3 } })
	})
})

describe('fault injection', () => {
	const nodeWrite = (fd: number, buf: Buffer, off: number, len: number, cb: (e: Error | null, n: number) => void) =>
		write(fd, buf, off, len, null, cb)

	it('short writes are completed: every record whole', async () => {
		const dir = tmp()
		const j = Journal.open({
			dir,
			io: { write: (fd, buf, off, len, cb) => nodeWrite(fd, buf, off, Math.min(len, 7), cb), fdatasync },
		})
		await Promise.all(Array.from({ length: 50 }, (_, i) => j.append('k', { i, text: 'é'.repeat(i) })))
		await j.close()
		const s = scanDir(dir)
		expect(s.firstBad).toBeNull()
		expect(s.records).toBe(50)
	})

	const eio = () => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })
	const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
	const fast = { retryMinMs: 5, retryMaxMs: 20 }

	it('a failed fdatasync holds its batch unacknowledged; the retry cuts the file back, writes it again, resolves it', async () => {
		const dir = tmp()
		let fail = false
		const j = Journal.open({
			dir,
			...fast,
			io: { write: nodeWrite, fdatasync: (fd, cb) => (fail ? cb(eio()) : fdatasync(fd, cb)) },
		})
		const faults: unknown[] = []
		const recoveries: unknown[] = []
		j.on('fault', (h) => faults.push(h))
		j.on('recovered', (r) => recoveries.push(r))
		await j.append('k', { ok: 1 })
		fail = true
		const settled: number[] = []
		const two = [j.append('k', { n: 2 }), j.append('k', { n: 3 })].map((p) => p.then((a) => settled.push(a.seq)))
		await until(() => faults.length === 1)
		expect(faults[0]).toMatchObject({ ok: false, queued: 2 })
		expect((faults[0] as JournalHealth).reason).toMatch(/EIO/)
		expect(j.health).toMatchObject({ ok: false, queued: 2 })
		// appends go on while faulted, held in order behind the failed batch
		const four = j.append('k', { n: 4 })
		await new Promise((r) => setTimeout(r, 60))
		expect(settled).toEqual([])
		expect(j.stats.failures).toBeGreaterThan(1) // it retried on its own
		fail = false
		await Promise.all([...two, four])
		expect(settled).toEqual([2, 3])
		expect(await four).toMatchObject({ seq: 4 })
		expect(recoveries).toEqual([expect.objectContaining({ written: 3, dropped: 0 })])
		expect(j.health).toMatchObject({ ok: true, queued: 0 })
		await j.close()
		const s = scanDir(dir)
		expect(s.firstBad).toBeNull()
		expect(readRecords(dir).map((r) => r.seq)).toEqual([1, 2, 3, 4])
	})

	it('ENOSPC after a short write: the partial line is cut before the retry, never left mid-chain', async () => {
		const dir = tmp()
		let full = false
		const j = Journal.open({
			dir,
			...fast,
			io: {
				// a full disk takes part of a write, then refuses the rest
				write: (fd, buf, off, len, cb) => {
					if (!full) return nodeWrite(fd, buf, off, len, cb)
					if (off === 0) return nodeWrite(fd, buf, off, Math.max(1, len >> 1), cb)
					cb(enospc(), 0)
				},
				fdatasync,
			},
		})
		await j.append('k', { n: 1 })
		full = true
		const later = Array.from({ length: 5 }, (_, i) => j.append('k', { n: i + 2, pad: 'x'.repeat(100) }))
		await until(() => !j.health.ok)
		expect(j.health.reason).toMatch(/ENOSPC/)
		// what is on disk now: record 1 and a partial line
		expect(scanDir(dir).torn).not.toBeNull()
		full = false
		await Promise.all(later)
		await j.close()
		const s = scanDir(dir)
		expect(s.firstBad).toBeNull()
		expect(s.records).toBe(6)
		expect((await verifyCli(dir)).code).toBe(0)
	})

	it('the memory queue is bounded: records past it are dropped unchained, counted in a dropped record', async () => {
		const dir = tmp()
		let fail = true
		const j = Journal.open({
			dir,
			...fast,
			maxQueued: 4,
			io: { write: (fd, b, o, l, cb) => (fail ? cb(enospc(), 0) : nodeWrite(fd, b, o, l, cb)), fdatasync },
		})
		const recovered = new Promise((r) => j.once('recovered', r))
		const kept = [0, 1, 2, 3].map((i) => j.append('observation', { i }))
		await until(() => !j.health.ok)
		const over = await Promise.allSettled([j.append('observation', { i: 4 }), j.append('decision', { i: 5 })])
		expect(over.map((r) => r.status)).toEqual(['rejected', 'rejected'])
		expect((over[0] as PromiseRejectedResult).reason).toBeInstanceOf(JournalDropped)
		expect(j.health).toMatchObject({ ok: false, queued: 4, dropped: 2 })
		fail = false
		await Promise.all(kept)
		expect(await recovered).toMatchObject({ written: 5, dropped: 2 })
		await j.close()
		const recs = readRecords(dir)
		expect(recs.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5])
		expect(recs[4]).toMatchObject({
			kind: 'dropped',
			payload: { dropped: 2, kinds: { observation: 1, decision: 1 } },
		})
		expect((recs[4]!.payload as { reason: string }).reason).toMatch(/ENOSPC/)
		expect(checkPayload('dropped', recs[4]!.payload)).toBeUndefined()
		expect(scanDir(dir).firstBad).toBeNull()
	})

	it('close on a disk that still refuses: one last try, then the held records are given up, without hanging', async () => {
		const dir = tmp()
		const j = Journal.open({ dir, ...fast, io: { write: (_fd, _b, _o, _l, cb) => cb(enospc(), 0), fdatasync } })
		const p = j.append('k', {})
		await until(() => !j.health.ok)
		await j.close()
		await expect(p).rejects.toThrow(/closed with 1 records unwritten/)
	})

	it('a write that hangs is a fault after stallMs: commands stop waiting; it ends when the write does', async () => {
		const dir = tmp()
		let hang = false
		const hung: (() => void)[] = []
		const j = Journal.open({
			dir,
			...fast,
			stallMs: 50,
			io: {
				write: nodeWrite,
				fdatasync: (fd, cb) => (hang ? hung.push(() => fdatasync(fd, cb)) : fdatasync(fd, cb)),
			},
		})
		await j.append('k', { n: 1 })
		hang = true
		const two = j.append('k', { n: 2 })
		expect(await j.writtenOrQueued(two)).toBe('queued')
		expect(j.health.reason).toMatch(/has not completed in 50 ms/)
		const recovered = new Promise((r) => j.once('recovered', r))
		hang = false
		for (const go of hung.splice(0)) go()
		expect(await two).toMatchObject({ seq: 2 })
		await recovered
		expect(j.health.ok).toBe(true)
		await j.close()
	})

	it('close does not hang on a hung write', async () => {
		const dir = tmp()
		const j = Journal.open({ dir, ...fast, stallMs: 50, io: { write: nodeWrite, fdatasync: () => {} } })
		const first = j.append('k', {})
		await until(() => !j.health.ok)
		const later = j.append('k', { queued: true })
		await j.close()
		await expect(later).rejects.toThrow(/closed with a write hung and 1 records unwritten/)
		// the hung one is neither acknowledged nor given up: nobody knows what the disk will do with it
		expect(await Promise.race([first.then(() => 'settled'), Promise.resolve('pending')])).toBe('pending')
	})

	it('writtenOrQueued answers at once when the journal is faulted, and "written" when it is not', async () => {
		const dir = tmp()
		let fail = false
		const j = Journal.open({
			dir,
			...fast,
			io: { write: (fd, b, o, l, cb) => (fail ? cb(enospc(), 0) : nodeWrite(fd, b, o, l, cb)), fdatasync },
		})
		expect(await j.writtenOrQueued(j.append('k', {}))).toBe('written')
		fail = true
		expect(await j.writtenOrQueued(j.append('k', {}))).toBe('queued')
		expect(await j.writtenOrQueued(j.append('k', {}))).toBe('queued')
		fail = false
		await until(() => j.health.ok)
		await j.close()
		expect(scanDir(dir).records).toBe(3)
	})
})

describe('keyed chain (journal.key) and the head', () => {
	const KEY = 'SIGPATH_TEST_JOURNAL_KEY'
	const OTHER = 'SIGPATH_TEST_JOURNAL_OTHER'
	process.env[KEY] = 'correct horse battery staple'
	process.env[OTHER] = 'another key'
	const key = Buffer.from(process.env[KEY])

	async function keyed(dir: string, n: number): Promise<void> {
		const j = Journal.open({ dir, clock: clock(), key })
		await Promise.all(Array.from({ length: n }, (_, i) => j.append('observation', { t: i, device: 'd', state: 'up' })))
		await j.close()
	}
	async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
		let out = ''
		const code = await main(['journal', 'verify', ...argv], { out: (t) => (out += t), err: (t) => (out += t) })
		return { code, out }
	}

	it('hashes with HMAC-SHA256: verify needs the key; another key, or none, fails at the first record', async () => {
		const dir = tmp()
		await keyed(dir, 5)
		const first = lines(join(dir, listFiles(dir)[0]!))[0]!
		const body = `${first.slice(0, -75)}}`
		expect(JSON.parse(first)).toMatchObject({
			hash: createHmac('sha256', key).update(body).digest('hex'),
			prev: GENESIS,
		})
		expect(await cli(dir, '--key-env', KEY)).toMatchObject({
			code: 0,
			out: expect.stringMatching(/ok: 5 records.*\(keyed\)/) as unknown,
		})
		const none = await cli(dir)
		expect(none.code).toBe(1)
		expect(none.out).toMatch(/line 1: .*a keyed journal: verify with its key/)
		expect(none.out).toMatch(/5 whole records whose hashes do not match: not a torn write, opening the journal refuses/)
		expect((await cli(dir, '--key-env', OTHER)).out).toMatch(/line 1: .*another key/)
		expect((await cli(dir, '--key-env', 'SIGPATH_TEST_UNSET_VAR')).code).toBe(2)
	})

	it('an edit re-chained with plain sha256 (what a keyless forger can do) fails with the key', async () => {
		const dir = tmp()
		await keyed(dir, 3)
		const file = join(dir, listFiles(dir)[0]!)
		let prev = GENESIS
		const forged = readRecords(dir, key).map((r) => {
			const { line, hash } = serialize({ ...r, payload: { ...(r.payload as object), state: 'down' }, prev })
			prev = hash
			return line
		})
		writeFileSync(file, `${forged.join('\n')}\n`)
		expect(scanDir(dir).firstBad).toBeNull() // it is a valid plain chain...
		expect((await cli(dir, '--key-env', KEY)).code).toBe(1) // ...but not the keyed one
	})

	it('open with a wrong or missing key refuses to cut the records as a torn tail, and changes nothing', async () => {
		const dir = tmp()
		await keyed(dir, 4)
		const file = join(dir, listFiles(dir)[0]!)
		const before = readFileSync(file)
		expect(() => Journal.open({ dir })).toThrow(/not a torn write; is journal.key right/)
		expect(() => Journal.open({ dir, key: Buffer.from('wrong') })).toThrow(/not a torn write/)
		expect(readFileSync(file).equals(before)).toBe(true)
		const j = Journal.open({ dir, key })
		expect(j.report.torn).toBeNull()
		expect(j.written).toMatchObject({ seq: 4 })
		await j.append('k', {})
		expect(j.written).toMatchObject({ seq: 5 })
		await j.close()
	})

	it('--head SEQ:HASH: a journal cut short, or rewritten, fails naming the problem; the same head passes', async () => {
		const dir = tmp()
		await fill(dir, 6)
		const recs = readRecords(dir)
		const head = `${recs[5]!.seq}:${recs[5]!.hash}`
		expect(await cli(dir, '--head', head)).toMatchObject({
			code: 0,
			out: expect.stringMatching(/holds the head, seq 6/) as unknown,
		})
		expect((await cli(dir, '--head', `3:${recs[2]!.hash}`)).code).toBe(0) // an older head is held too
		// the tail cut at a record boundary: the chain alone still verifies
		const file = join(dir, listFiles(dir)[0]!)
		writeFileSync(file, `${lines(file).slice(0, 4).join('\n')}\n`)
		expect((await verifyCli(dir)).code).toBe(0)
		const cut = await cli(dir, '--head', head)
		expect(cut.code).toBe(1)
		expect(cut.out).toMatch(/BAD: truncated: the head is seq 6 but the journal ends at seq 4: 2 records missing/)
		const json = await cli(dir, '--head', head, '--json')
		expect(JSON.parse(json.out)).toMatchObject({ ok: false, headCheck: { seq: 6, ok: false } })
		// rewritten from seq 3 on: same length, other hashes
		const other = tmp()
		await fill(other, 2)
		const j = Journal.open({ dir: other, clock: clock() })
		await Promise.all([1, 2, 3, 4].map((i) => j.append('observation', { t: i, device: 'x', state: 'down' })))
		await j.close()
		expect((await cli(other, '--head', head)).out).toMatch(/record 6 has hash .* the journal was rewritten/)
		expect((await cli(dir, '--head', '6:zz')).code).toBe(2)
	})
})

describe('errors name the place', () => {
	it('a journal directory that is a file', () => {
		const dir = tmp()
		const file = join(dir, 'not-a-dir')
		writeFileSync(file, '')
		expect(() => Journal.open({ dir: file })).toThrow(/cannot create the journal directory .*not-a-dir/)
	})
})
