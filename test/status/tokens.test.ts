// HTTP callers (docs/contract.md §6a): named bearer tokens with roles, against the real daemon driving a Videohub
// simulator. A viewer reads, an operator commands and is journaled by its token's name; /audit needs a token once
// tokens exist; the tokens themselves never reach a log line or a response.
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/domain/load.ts'
import { REDACTED, redact, SecretError, unsetSecrets } from '../../src/domain/secrets.ts'
import { createLogger, silentLogger } from '../../src/log.ts'
import { readRecords } from '../../src/journal/index.ts'
import { StatusServer } from '../../src/status/server.ts'
import { startStatusLab, type StatusLab } from '../support/status-lab.ts'

let lab: StatusLab | undefined
afterEach(async () => {
	await lab?.stop()
	lab = undefined
})

const OPERATOR = 'op-5e1f9c0a7d'
const VIEWER = 'view-2b8e44f1c3'
const env = { SIGPATH_TOK_DESK: OPERATOR, SIGPATH_TOK_WALL: VIEWER }
const tokens = [
	{ name: 'desk-1', token: { env: 'SIGPATH_TOK_DESK' }, role: 'operator' as const },
	{ name: 'wall', token: { env: 'SIGPATH_TOK_WALL' }, role: 'viewer' as const },
]

async function call(
	method: string,
	path: string,
	o: { token?: string; body?: string } = {},
): Promise<{ status: number; body: string; headers: Headers }> {
	const r = await fetch(`${lab!.url}${path}`, {
		method,
		headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), 'content-type': 'application/json' },
		...(o.body !== undefined ? { body: o.body } : {}),
	})
	return { status: r.status, body: await r.text(), headers: r.headers }
}

/** the status endpoint's answer to a refused request: one JSON line with one reason */
function oneLine(body: string): string {
	expect(body.endsWith('\n')).toBe(true)
	expect(body.slice(0, -1)).not.toContain('\n')
	const parsed = JSON.parse(body) as { error: string }
	expect(Object.keys(parsed)).toEqual(['error'])
	return parsed.error
}

const commands = () =>
	readRecords(lab!.dir)
		.filter((r) => r.kind === 'command')
		.map((r) => r.payload as { command: string; operator?: string; panel?: string | null; via?: string })

describe('http.tokens: callers with names and roles', () => {
	it('a viewer may not take (403), an operator may, journaled with its name as the panel; secrets never logged', async () => {
		let logged = ''
		const sink = new Writable({
			write(chunk: Buffer, _enc, done) {
				logged += chunk.toString()
				done()
			},
		})
		lab = await startStatusLab({ tokens, env, log: createLogger('debug', sink) })
		for (const s of Object.values(lab.sources)) s.report('up')
		const take = JSON.stringify({ action: 'take', path: 'sat', operator: 'anna' })

		const viewer = await call('POST', '/feeds/ev1/feed1/set', { token: VIEWER, body: take })
		expect(viewer.status).toBe(403)
		expect(oneLine(viewer.body)).toBe('token "wall" has the viewer role: it may read, not command')
		const none = await call('POST', '/feeds/ev1/feed1/set', { body: take })
		expect(none.status).toBe(401)
		expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/)
		expect(oneLine(none.body)).toBe('a bearer token is required')
		const wrong = await call('POST', '/feeds/ev1/feed1/set', { token: `${OPERATOR}x`, body: take })
		expect(wrong.status).toBe(403)
		expect(oneLine(wrong.body)).toBe('wrong token')
		expect(lab.sim.routingRequests).toBe(0)
		expect(commands()).toEqual([])

		const ok = await call('POST', '/feeds/ev1/feed1/set', { token: OPERATOR, body: take })
		expect({ status: ok.status, body: JSON.parse(ok.body) as unknown }).toEqual({ status: 200, body: { ok: true } })
		expect(lab.sim.routingTable()[0]).toBe(1)
		const lock = await call('POST', '/feeds/ev1/feed1/set', { token: OPERATOR, body: '{"action":"lock"}' })
		expect(lock.status).toBe(200)
		expect(commands()).toEqual([
			expect.objectContaining({ command: 'take', operator: 'anna', panel: 'desk-1', via: 'http' }),
			// nobody named: the caller is all that is known of who it was
			expect.objectContaining({ command: 'lock', operator: 'desk-1', panel: 'desk-1', via: 'http' }),
		])
		expect(logged).toContain('"caller":"wall"') // the refusal names the caller, not its token
		expect(logged).not.toContain(OPERATOR)
		expect(logged).not.toContain(VIEWER)
	})

	it('/audit needs a token once tokens exist (401 without, 403 with a wrong one); /status stays open', async () => {
		lab = await startStatusLab({ tokens, env })
		const without = await call('GET', '/audit')
		expect(without.status).toBe(401)
		expect(oneLine(without.body)).toBe('a bearer token is required')
		const wrong = await call('GET', '/audit', { token: 'guess' })
		expect(wrong.status).toBe(403)
		expect(oneLine(wrong.body)).toBe('wrong token')
		for (const token of [VIEWER, OPERATOR]) {
			const r = await call('GET', '/audit?since=0', { token })
			expect(r.status).toBe(200)
			expect(r.headers.get('content-type')).toMatch(/^application\/x-ndjson/)
			expect(r.body.split('\n')[0]).toMatch(/^\{"seq":1,/)
		}
		expect((await call('GET', '/status')).status).toBe(200)
		expect((await call('GET', '/readyz')).status).toBe(200)
	})

	it('the v1 http.token is the operator "http" and closes /audit; with no token /audit is open, commands refused', async () => {
		lab = await startStatusLab({ token: 'v1-token-abc' })
		expect((await call('GET', '/audit')).status).toBe(401)
		for (const s of Object.values(lab.sources)) s.report('up')
		const r = await call('POST', '/feeds/ev1/feed1/set', { token: 'v1-token-abc', body: '{"action":"manual"}' })
		expect(r.status).toBe(200)
		expect(commands()).toEqual([expect.objectContaining({ command: 'manual', operator: 'http', panel: 'http' })])
		await lab.stop()
		lab = await startStatusLab()
		expect((await call('GET', '/audit')).status).toBe(200)
		expect((await call('POST', '/feeds/ev1/feed1/set', { body: '{"action":"auto"}' })).status).toBe(403)
	})

	it('refuses to start when two callers share a token, naming them and not the token', () => {
		const make = () =>
			new StatusServer({
				daemon: {} as ConstructorParameters<typeof StatusServer>[0]['daemon'],
				log: silentLogger,
				token: 'same-secret-1',
				tokens: [{ name: 'wall', token: { env: 'X_TOK' }, role: 'viewer' }],
				env: { X_TOK: 'same-secret-1' },
			})
		expect(make).toThrow(SecretError)
		expect(make).toThrow('http.tokens: "http" and "wall" have the same token; each caller needs its own')
	})
})

describe('http.tokens in the config', () => {
	const config = (http: string) => () => parseConfigText(`site: { id: s }\nhttp: ${http}\n`)
	it('takes names and roles; a name twice, or "http" beside http.token, is an error at its place', () => {
		expect(config('{ tokens: [ { name: a, token: { env: A }, role: viewer } ] }')().http?.tokens).toEqual([
			{ name: 'a', token: { env: 'A' }, role: 'viewer' },
		])
		expect(
			config('{ tokens: [ { name: a, token: x, role: operator }, { name: a, token: y, role: viewer } ] }'),
		).toThrow('http.tokens[1].name: "a" is taken by http.tokens[0]')
		expect(config('{ token: t, tokens: [ { name: http, token: x, role: viewer } ] }')).toThrow(
			'http.tokens[0].name: "http" is taken by http.token',
		)
		expect(config('{ tokens: [ { name: a, token: x, role: admin } ] }')).toThrow(/http\.tokens\[0\]\.role/)
	})

	it('treats each token as a secret: redacted where a config is shown, named when its variable is unset', () => {
		const cfg = config(
			'{ tokens: [ { name: a, token: inline-s3cret, role: operator }, { name: b, token: { env: B_TOK }, role: viewer } ] }',
		)()
		expect(redact(cfg).http?.tokens?.map((t) => t.token)).toEqual([REDACTED, { env: 'B_TOK' }])
		expect(unsetSecrets(cfg, {})).toEqual([{ path: 'http.tokens[1].token', variable: 'B_TOK' }])
	})
})
