// The status endpoint as its clients use it: real HTTP requests against a daemon driving a Videohub simulator.
import { request } from 'node:http'
import { connect } from 'node:net'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { listFiles, parseLine, readRecords } from '../../src/journal/index.ts'
import { filesAfter } from '../../src/status/audit.ts'
import { startStatusLab, until, type StatusLab } from '../support/status-lab.ts'
import { openSse, type SseClient, type SseEvent } from '../support/status-sse.ts'

let lab: StatusLab | undefined
afterEach(async () => {
	await lab?.stop()
	lab = undefined
})

interface Reply {
	status: number
	headers: Record<string, string | string[] | undefined>
	body: string
}

/** One request on its own connection; `rawPath` is sent as is (no URL normalisation). */
function http(
	base: string,
	method: string,
	rawPath: string,
	o: { body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Reply> {
	const u = new URL(base)
	return new Promise((resolve, reject) => {
		const req = request(
			{
				host: u.hostname,
				port: u.port,
				method,
				path: rawPath,
				headers: { connection: 'close', ...o.headers },
				agent: false,
			},
			(res) => {
				const chunks: Buffer[] = []
				res.on('data', (c: Buffer) => chunks.push(c))
				res.on('end', () =>
					resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
				)
				res.on('error', reject)
			},
		)
		req.on('error', reject)
		req.end(o.body)
	})
}

const json = (r: Reply): unknown => JSON.parse(r.body)

describe('the read endpoints', () => {
	it('serves /status in the docs/contract.md §6 shape, with security headers and no caching', async () => {
		lab = await startStatusLab()
		const r = await http(lab.url, 'GET', '/status')
		expect(r.status).toBe(200)
		expect(r.headers['content-type']).toMatch(/^application\/json/)
		expect(r.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/)
		expect(r.headers['x-content-type-options']).toBe('nosniff')
		expect(r.headers['cache-control']).toBe('no-store')
		const s = json(r) as {
			site: string
			version: string
			uptimeS: number
			feeds: { event: string; feed: string; active: string; paths: { id: string; signal: null }[] }[]
			devices: { id: string; role: string; connected: boolean | null; health: string }[]
		}
		expect(s.site).toBe('lab')
		expect(typeof s.version).toBe('string')
		expect(Number.isInteger(s.uptimeS)).toBe(true)
		// one daemon without `ha` (docs/contract.md §9): alone, and the one controlling
		expect((s as unknown as { node: unknown }).node).toMatchObject({ role: 'alone', leaseRemainingMs: null })
		expect(s.feeds[0]).toMatchObject({
			event: 'ev1',
			feed: 'feed1',
			active: 'fiber',
			mode: 'auto',
			locked: false,
			paths: [
				{ id: 'fiber', method: 'fiber', signal: null, state: 'ineligible' },
				{ id: 'sat', method: 'satellite', signal: null },
				{ id: 'srt', method: 'srt', signal: null },
			],
			compliance: { required: 3 },
		})
		const c = (s.feeds[0] as unknown as { compliance: { compliant: unknown; violations: unknown } }).compliance
		expect(typeof c.compliant).toBe('boolean')
		expect(Array.isArray(c.violations)).toBe(true)
		expect(s.devices).toContainEqual({ id: 'rtr', role: 'router', connected: true, health: 'ok' })
		const head = await http(lab.url, 'HEAD', '/status')
		expect(head.status).toBe(200)
		expect(head.body).toBe('')
	})

	it('says alive on /healthz, and on /readyz 503 until the first full sync, then 200', async () => {
		let before: Reply | undefined
		let alive: Reply | undefined
		let sse: SseClient | undefined
		let snapshotReady: unknown
		let readyEvent: SseEvent | undefined
		lab = await startStatusLab({
			serverFirst: true,
			beforeDaemon: async (url) => {
				before = await http(url, 'GET', '/readyz')
				alive = await http(url, 'GET', '/healthz')
				// a dashboard opened before the first sync is told when it completes
				sse = await openSse(`${url}/events`)
				snapshotReady = (JSON.parse((await sse.next((e) => e.event === 'snapshot')).data) as { ready: boolean }).ready
				void sse.next((e) => e.event === 'ready').then((e) => (readyEvent = e))
			},
		})
		await until(() => readyEvent !== undefined, 3000, 'the ready event')
		expect(before?.status).toBe(503)
		expect(json(before!)).toMatchObject({ ready: false })
		expect(alive?.status).toBe(200)
		expect(json(alive!)).toMatchObject({ alive: true })
		expect(snapshotReady).toBe(false)
		expect(readyEvent?.data).toBe('{"ready":true}')
		sse?.close()
		const after = await http(lab.url, 'GET', '/readyz')
		expect(after.status).toBe(200)
	})

	it('exposes Prometheus metrics: path signal, state and tally, switches by cause, take latency, devices, loop delay', async () => {
		lab = await startStatusLab({ lossMs: 50 })
		for (const s of Object.values(lab.sources)) s.report('up')
		lab.sources['rx-0-fiber']!.report('down')
		await until(() => lab!.sim.routingTable()[0] === 1, 3000, 'the failover to sat')
		await until(() => lab!.daemon.takes.length === 1)
		const r = await http(lab.url, 'GET', '/metrics')
		expect(r.status).toBe(200)
		expect(r.headers['content-type']).toMatch(/^text\/plain/)
		const m = r.body
		expect(m).toContain('sigpath_path_signal{event="ev1",feed="feed1",path="fiber"} 0')
		expect(m).toContain('sigpath_path_signal{event="ev1",feed="feed1",path="sat"} 2')
		expect(m).toContain('sigpath_path_state{event="ev1",feed="feed1",path="fiber",state="failed"} 1')
		expect(m).toContain('sigpath_path_active{event="ev1",feed="feed1",path="sat"} 1')
		expect(m).toContain('sigpath_path_active{event="ev1",feed="feed1",path="fiber"} 0')
		expect(m).toContain('sigpath_switches_total{event="ev1",feed="feed1",cause="failover"} 1')
		expect(m).toContain('sigpath_take_latency_seconds_count{cause="failover"} 1')
		expect(m).toMatch(/sigpath_take_latency_seconds_bucket\{le="1",cause="failover"\} 1/)
		expect(m).toContain('sigpath_device_connected{device="rtr"} 1')
		expect(m).toContain('sigpath_device_health{device="rtr",health="ok"} 1')
		expect(m).toContain('sigpath_feed_auto{event="ev1",feed="feed1"} 1')
		expect(m).toContain('sigpath_ready 1')
		expect(m).toContain('sigpath_ha_role{role="alone"} 1')
		expect(m).toContain('sigpath_ha_role{role="active"} 0')
		expect(m).toMatch(/sigpath_event_loop_delay_seconds\{quantile="0.99"\} [0-9.e-]+/)
		expect(m).toMatch(/sigpath_journal_bytes [1-9]\d*/)
		expect(m).toContain('sigpath_http_requests_total')
	})
})

describe('/audit', () => {
	it('pages through the journal as the journal wrote it, across rotated files', async () => {
		lab = await startStatusLab({ rotateBytes: 65536 })
		for (const s of Object.values(lab.sources)) s.report('up')
		// enough reports for the journal to rotate at least once
		for (let i = 0; i < 500; i++) {
			lab.sources['rx-0-sat']!.report(i % 2 ? 'up' : 'degraded')
			if (i % 50 === 0) await new Promise((r) => setImmediate(r))
		}
		await until(() => listFiles(lab!.dir).length >= 2, 5000, 'a rotation')
		await new Promise((r) => setTimeout(r, 50))
		const all = readRecords(lab.dir)
		const seen: number[] = []
		let since = 0
		for (let page = 0; page < 100; page++) {
			const r = await http(lab.url, 'GET', `/audit?since=${since}&limit=${page === 0 ? 5 : 200}`)
			expect(r.status).toBe(200)
			expect(r.headers['content-type']).toMatch(/^application\/x-ndjson/)
			const lines = r.body.split('\n').filter(Boolean)
			if (lines.length === 0) break
			expect(lines.length).toBeLessThanOrEqual(page === 0 ? 5 : 200)
			if (page === 0) expect(lines).toHaveLength(5)
			for (const line of lines) {
				const rec = parseLine(line)
				if (typeof rec === 'string') throw new Error(`a line of /audit does not verify: ${rec}`)
				seen.push(rec.seq)
			}
			since = seen[seen.length - 1]!
		}
		expect(seen.slice(0, all.length)).toEqual(all.map((r) => r.seq))
		expect(seen).toEqual([...seen].sort((a, b) => a - b))
		const beyond = await http(lab.url, 'GET', `/audit?since=${since + 1000}`)
		expect(beyond.status).toBe(200)
		expect(beyond.body).toBe('')
	})

	it('serves a keyed journal: every record, each verifying with the key and not without it', async () => {
		const key = 'status-test-journal-key'
		lab = await startStatusLab({ journalKey: key })
		for (const s of Object.values(lab.sources)) s.report('up')
		lab.sources['rx-0-fiber']!.report('down')
		await until(() => lab!.daemon.feedState('ev1/feed1').active === 'sat', 5000, 'the failover')
		await until(
			() => readRecords(lab!.dir, Buffer.from(key)).some((r) => r.kind === 'take'),
			5000,
			'the take journaled',
		)
		const all = readRecords(lab.dir, Buffer.from(key))
		const r = await http(lab.url, 'GET', `/audit?limit=${all.length}`)
		expect(r.status).toBe(200)
		const lines = r.body.split('\n').filter(Boolean)
		expect(lines.map((l) => (parseLine(l, Buffer.from(key)) as { seq: number }).seq)).toEqual(all.map((x) => x.seq))
		expect(lines.some((l) => l.includes('"kind":"take"'))).toBe(true)
		// keyed: a line checked without the key does not verify (the HMAC is not a plain SHA-256)
		expect(parseLine(lines[0]!)).toMatch(/hash does not match/)
	})

	it('skips whole files before since by their names', () => {
		const files = ['journal-000000000001.jsonl', 'journal-000000000011.jsonl', 'journal-000000000021.jsonl']
		expect(filesAfter(files, 0)).toEqual(files)
		expect(filesAfter(files, 9)).toEqual(files)
		expect(filesAfter(files, 10)).toEqual(files.slice(1))
		expect(filesAfter(files, 25)).toEqual(files.slice(2))
		expect(filesAfter([], 5)).toEqual([])
	})
})

describe('bad HTTP input changes nothing and gets the right status', () => {
	it('answers 404, 405 with Allow, 414, 431 and 400 as a client would see them', async () => {
		lab = await startStatusLab({ token: 'tok-123456' })
		const before = { routing: lab.sim.routingRequests, records: readRecords(lab.dir).length }
		const cases: [string, string, number, Record<string, string>?][] = [
			['GET', '/nope', 404],
			['GET', '/status/', 404],
			['GET', '/feeds/ev1/feed1', 404],
			['GET', '/../etc/passwd', 404],
			['GET', '/%2e%2e/etc/passwd', 404],
			['POST', '/status', 405],
			['DELETE', '/', 405],
			['PUT', '/metrics', 405],
			['HEAD', '/events', 405],
			['GET', '/feeds/ev1/feed1/set', 405],
			['GET', `/status?x=${'a'.repeat(3000)}`, 414],
			['GET', `/status?x=${'a'.repeat(20_000)}`, 431],
			['GET', '/audit?since=-1', 400],
			['GET', '/audit?since=abc', 400],
			['GET', '/audit?since=1.5', 400],
			['GET', '/audit?since=1e3', 400],
			['GET', '/audit?since=99999999999999999999', 400],
			['GET', '/audit?since=1&since=2', 400],
			['GET', '/audit?since=', 400],
			['GET', '/audit?limit=0', 400],
			['GET', '/audit?limit=100000', 400],
			['GET', '/audit?sinse=3', 400],
		]
		for (const [method, path, want] of cases) {
			// with a token configured /audit needs it: its bad parameters are judged once the caller is known
			const r = await http(lab.url, method, path, { headers: { authorization: 'Bearer tok-123456' } })
			expect({ method, path: path.slice(0, 60), status: r.status }).toEqual({
				method,
				path: path.slice(0, 60),
				status: want,
			})
			if (want === 405)
				expect(r.headers['allow']).toBe(path.endsWith('/set') ? 'POST' : path === '/events' ? 'GET' : 'GET, HEAD')
			if (want !== 431 && method !== 'HEAD') expect(() => json(r)).not.toThrow()
		}
		expect(lab.sim.routingRequests).toBe(before.routing)
		expect(readRecords(lab.dir).filter((r) => r.kind === 'command')).toHaveLength(0)
		const ok = await http(lab.url, 'GET', '/status')
		expect(ok.status).toBe(200)
	})
})

describe('fuzzed requests', () => {
	it('never answer 5xx, never move a crosspoint, and leave the server answering', async () => {
		lab = await startStatusLab({ token: 'fuzz-token-1' })
		const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']
		const pieces = [
			'/',
			'status',
			'feeds',
			'ev1',
			'feed1',
			'set',
			'audit',
			'?',
			'&',
			'=',
			'since',
			'limit',
			'%',
			'%00',
			'..',
			'//',
			'#',
			'-1',
			'9'.repeat(20),
			'é',
			' ',
		]
		await fc.assert(
			fc.asyncProperty(
				fc.constantFrom(...methods),
				fc.array(fc.constantFrom(...pieces), { maxLength: 12 }),
				fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
				fc.boolean(),
				async (method, parts, body, auth) => {
					const path = `/${parts.join('')}`.replace(/ /g, '%20').replace(/é/g, '%C3%A9').replace(/#/g, '%23')
					const r = await http(lab!.url, method, path, {
						...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body } : {}),
						headers: auth ? { authorization: 'Bearer fuzz-token-1' } : {},
					})
					expect(r.status).toBeGreaterThanOrEqual(200)
					expect(r.status).toBeLessThan(500)
				},
			),
			{ numRuns: 150 },
		)
		expect(lab.sim.routingRequests).toBe(0)
		expect((await http(lab.url, 'GET', '/healthz')).status).toBe(200)
	})
})

describe('commands over HTTP', () => {
	const set = (path = '/feeds/ev1/feed1/set') => path

	it('is read-only without a token: a POST is refused and nothing moves', async () => {
		lab = await startStatusLab()
		const r = await http(lab.url, 'POST', set(), {
			body: JSON.stringify({ action: 'take', path: 'sat', force: true }),
			headers: { authorization: 'Bearer anything', 'content-type': 'application/json' },
		})
		expect(r.status).toBe(403)
		expect((json(r) as { error: string }).error).toMatch(/read-only/)
		expect(lab.sim.routingRequests).toBe(0)
	})

	it('with the token from the environment: 401/403 without or with a wrong token, 400/404/413 for bad input, then a take journaled with its operator', async () => {
		lab = await startStatusLab({ token: { env: 'SIGPATH_TEST_TOKEN' }, env: { SIGPATH_TEST_TOKEN: 's3cret-token' } })
		for (const s of Object.values(lab.sources)) s.report('up')
		const good = { authorization: 'Bearer s3cret-token', 'content-type': 'application/json' }
		const take = JSON.stringify({ action: 'take', path: 'sat', operator: 'tco-anna' })
		const cases: [string, Record<string, string>, string | Buffer, number][] = [
			[set(), {}, take, 401],
			[set(), { authorization: 'Basic czNjcmV0' }, take, 401],
			[set(), { authorization: 'Bearer s3cret-tokem' }, take, 403],
			[set(), { authorization: 'Bearer s3cret-token-and-more' }, take, 403],
			[set(), good, '{"action":', 400],
			[set(), good, '{"action":"take"}', 400],
			[set(), good, '{"action":"lock","path":"sat"}', 400],
			[set(), good, '{"action":"take","path":"sat","extra":1}', 400],
			[set(), good, '[]', 400],
			[set(), good, '', 400],
			[set(), good, Buffer.alloc(17 * 1024, 0x20), 413],
			[set('/feeds/ev9/feed1/set'), good, take, 404],
			[set('/feeds/ev1/%E0%A4%A/set'), good, take, 400],
		]
		for (const [path, headers, body, want] of cases) {
			const r = await http(lab.url, 'POST', path, { body, headers })
			expect({ path, h: headers['authorization'], body: String(body).slice(0, 40), status: r.status }).toEqual({
				path,
				h: headers['authorization'],
				body: String(body).slice(0, 40),
				status: want,
			})
			if (want === 401) expect(r.headers['www-authenticate']).toMatch(/^Bearer/)
			expect(r.body).not.toContain('s3cret')
		}
		expect(lab.sim.routingRequests).toBe(0)
		expect(readRecords(lab.dir).filter((r) => r.kind === 'command')).toHaveLength(0)

		const ok = await http(lab.url, 'POST', set(), { body: take, headers: good })
		expect(ok.status).toBe(200)
		expect(json(ok)).toEqual({ ok: true })
		expect(lab.sim.routingTable()[0]).toBe(1)
		expect(lab.daemon.feedState('ev1/feed1')).toMatchObject({ active: 'sat', mode: 'manual' })
		const lock = await http(lab.url, 'POST', set(), { body: '{"action":"lock"}', headers: good })
		expect(lock.status).toBe(200)
		const refused = await http(lab.url, 'POST', set(), { body: '{"action":"take","path":"fiber"}', headers: good })
		expect(refused.status).toBe(409)
		expect(json(refused)).toMatchObject({ ok: false })
		expect((json(refused) as { error: string }).error).toMatch(/lock/i)
		const commands = readRecords(lab.dir)
			.filter((r) => r.kind === 'command')
			.map((r) => r.payload as { command: string; operator?: string; via?: string; result: string })
		expect(commands[0]).toMatchObject({ command: 'take', operator: 'tco-anna', via: 'http', result: 'accepted' })
		expect(commands[1]).toMatchObject({ command: 'lock', operator: 'http', via: 'http' })
		expect(commands[2]).toMatchObject({ command: 'take', result: 'refused' })
	})

	it('refuses a declared oversize body unread, and one sent chunked once it passes 16 KiB', async () => {
		lab = await startStatusLab({ token: 'tok-abcdef' })
		const r = await http(lab.url, 'POST', '/feeds/ev1/feed1/set', {
			headers: { authorization: 'Bearer tok-abcdef', 'content-length': String(1 << 20) },
		}).catch((err: Error) => ({ status: -1, headers: {}, body: err.message }))
		expect(r.status).toBe(413)
		const chunked = await new Promise<number>((resolve, reject) => {
			const u = new URL(lab!.url)
			const req = request(
				{
					host: u.hostname,
					port: u.port,
					method: 'POST',
					path: '/feeds/ev1/feed1/set',
					headers: { authorization: 'Bearer tok-abcdef', 'transfer-encoding': 'chunked' },
					agent: false,
				},
				(res) => {
					res.resume()
					resolve(res.statusCode ?? 0)
				},
			)
			req.on('error', reject)
			for (let i = 0; i < 20; i++) req.write(Buffer.alloc(1024, 0x20))
			req.end()
		})
		expect(chunked).toBe(413)
		expect(lab.sim.routingRequests).toBe(0)
	})
})

describe('the live push channel (/events)', () => {
	it('sends a snapshot first, then the failover as feed and switch events, and heartbeats', async () => {
		lab = await startStatusLab({ heartbeatMs: 50 })
		const sse = await openSse(`${lab.url}/events`)
		expect(sse.status).toBe(200)
		expect(sse.headers['content-type']).toMatch(/^text\/event-stream/)
		const first = await sse.next(() => true)
		expect(first.event).toBe('snapshot')
		const snap = JSON.parse(first.data) as { feeds: { active: string }[]; events: { bigBet: boolean; tier: string }[] }
		expect(snap.feeds[0]!.active).toBe('fiber')
		expect(snap.events[0]).toMatchObject({ bigBet: true, tier: 'red' })
		for (const s of Object.values(lab.sources)) s.report('up')
		lab.sources['rx-0-fiber']!.report('down')
		const feed = await sse.next(
			(e) => e.event === 'feed' && (JSON.parse(e.data) as { active: string }).active === 'sat',
		)
		expect(JSON.parse(feed.data)).toMatchObject({ key: 'ev1/feed1', paths: { fiber: { signal: 'down' } } })
		const sw = await sse.next((e) => e.event === 'switch')
		expect(JSON.parse(sw.data)).toMatchObject({ feed: 'ev1/feed1', from: 'fiber', to: 'sat', cause: 'failover' })
		expect((JSON.parse(sw.data) as { latencyMs: number }).latencyMs).toBeLessThan(1000)
		await until(() => sse.comments.some((c) => c.startsWith('heartbeat')), 2000, 'a heartbeat')
		// /status is cached between changes: it must already show the switch
		const status = json(await http(lab.url, 'GET', '/status')) as { feeds: { active: string }[] }
		expect(status.feeds[0]!.active).toBe('sat')
		sse.close()
	})

	it('refuses clients past the limit with 503, and drops one that stops reading without slowing the others', async () => {
		lab = await startStatusLab({ maxSseClients: 3, sseBacklogBytes: 32 * 1024 })
		const reader = await openSse(`${lab.url}/events`)
		await reader.next((e) => e.event === 'snapshot')
		// a client that sends its request and never reads a byte
		const u = new URL(lab.url)
		const stuck = connect({ host: u.hostname, port: Number(u.port) })
		stuck.pause()
		await new Promise<void>((r) => stuck.once('connect', () => r()))
		stuck.write(`GET /events HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`)
		const third = await openSse(`${lab.url}/events`)
		await third.next((e) => e.event === 'snapshot')
		const fourth = await openSse(`${lab.url}/events`)
		expect(fourth.status).toBe(503)
		expect(fourth.headers['retry-after']).toBe('5')
		fourth.close()
		// (a paused socket does not read the server's close either: the server's own count tells)
		const clients = async () => /sigpath_sse_clients (\d+)/.exec((await http(lab!.url, 'GET', '/metrics')).body)?.[1]
		expect(await clients()).toBe('3')
		// state changes until the stuck client's backlog passes the limit (kernel buffers first)
		const src = lab.sources['rx-0-sat']!
		for (let i = 0; i < 100_000; i++) {
			src.report(i % 2 ? 'up' : 'degraded')
			// the readers live on this event loop: let them read between small bursts (well under the limit)
			if (i % 10 === 0) await new Promise((r) => setImmediate(r))
			if (i % 500 === 0 && (await clients()) === '2') break
		}
		expect(await clients()).toBe('2')
		src.report('down')
		await reader.next((e) => e.event === 'feed' && e.data.includes('"sat":{"signal":"down"'))
		await third.next((e) => e.event === 'feed' && e.data.includes('"sat":{"signal":"down"'))
		reader.close()
		third.close()
		stuck.destroy()
	})

	it('pushes a signal change on a path that is not on air (no switch, no alarm from the engine)', async () => {
		lab = await startStatusLab()
		for (const s of Object.values(lab.sources)) s.report('up')
		const sse = await openSse(`${lab.url}/events`)
		await sse.next((e) => e.event === 'snapshot')
		lab.sources['rx-0-srt']!.report('degraded')
		const e = await sse.next((x) => x.event === 'feed' && x.data.includes('"srt":{"signal":"degraded"'), 2000)
		expect(JSON.parse(e.data)).toMatchObject({ key: 'ev1/feed1', active: 'fiber' })
		sse.close()
	})

	it('follows classes that change on a timer (failed after lossMs, healthy after clearMs) in /status and on the channel', async () => {
		lab = await startStatusLab({ lossMs: 50, clearMs: 300 })
		for (const s of Object.values(lab.sources)) s.report('up')
		const sse = await openSse(`${lab.url}/events`)
		await sse.next((e) => e.event === 'snapshot')
		const srtState = async () =>
			(
				json(await http(lab!.url, 'GET', '/status')) as { feeds: { paths: { id: string; state: string }[] }[] }
			).feeds[0]!.paths.find((p) => p.id === 'srt')!.state
		const waitFor = async (want: string) => {
			const deadline = Date.now() + 3000
			while ((await srtState()) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
			expect(await srtState()).toBe(want)
		}
		lab.sources['rx-0-srt']!.report('degraded')
		await waitFor('failed')
		lab.sources['rx-0-srt']!.report('up')
		await waitFor('recovering')
		await waitFor('healthy')
		await sse.next((e) => e.event === 'feed' && e.data.includes('"srt":{"signal":"up","state":"healthy"'), 1000)
		sse.close()
	})

	it('forgets clients that disconnect', async () => {
		lab = await startStatusLab()
		const a = await openSse(`${lab.url}/events`)
		const b = await openSse(`${lab.url}/events`)
		await a.next((e) => e.event === 'snapshot')
		await b.next((e) => e.event === 'snapshot')
		const clients = async () => /sigpath_sse_clients (\d+)/.exec((await http(lab!.url, 'GET', '/metrics')).body)?.[1]
		expect(await clients()).toBe('2')
		a.close()
		b.close()
		const deadline = Date.now() + 2000
		while ((await clients()) !== '0' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
		expect(await clients()).toBe('0')
	})
})

describe('stop', () => {
	it('leaves no socket, server or timer behind (the whole lab started and stopped)', async () => {
		const count = () => {
			const m = new Map<string, number>()
			for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1)
			return m
		}
		// let the previous test's closing sockets finish closing
		await new Promise((r) => setTimeout(r, 100))
		const before = count()
		const l = await startStatusLab({ heartbeatMs: 20 })
		const sse = await openSse(`${l.url}/events`)
		await sse.next((e) => e.event === 'snapshot')
		await http(l.url, 'GET', '/metrics')
		await http(l.url, 'GET', '/audit')
		await l.stop()
		sse.close()
		await new Promise((r) => setTimeout(r, 100))
		const after = count()
		for (const kind of ['TCPServerWrap', 'TCPSocketWrap', 'Timeout'])
			expect({ kind, n: after.get(kind) ?? 0 }).toEqual({ kind, n: before.get(kind) ?? 0 })
	})

	it('closes the port, ends open streams and leaves no listener on the daemon', async () => {
		lab = await startStatusLab()
		const sse = await openSse(`${lab.url}/events`)
		await sse.next((e) => e.event === 'snapshot')
		const ended = new Promise<void>((resolve) => {
			const t = setInterval(() => {
				if (sse.comments.some((c) => c.startsWith('client error')) || sse.events.length > 0) {
					clearInterval(t)
					resolve()
				}
			}, 10)
		})
		const port = lab.address.port
		const listeners = () =>
			(['feed', 'device', 'alarm', 'switch'] as const).reduce((n, e) => n + lab!.daemon.events.listenerCount(e), 0)
		expect(listeners()).toBeGreaterThan(0)
		await lab.server.stop()
		await ended
		expect(listeners()).toBe(0)
		const refused = await new Promise<boolean>((resolve) => {
			const s = connect({ host: '127.0.0.1', port })
			s.on('connect', () => {
				s.destroy()
				resolve(false)
			})
			s.on('error', () => resolve(true))
		})
		expect(refused).toBe(true)
		sse.close()
	})
})
