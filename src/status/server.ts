// The status endpoint (docs/contract.md §6): /status, /healthz, /readyz, /metrics, /audit, /alarms, the live push
// channel at /events, the dashboard at /, and (only with a token of role operator) commands at POST
// /feeds/<event>/<feed>/set, alarm acknowledgements at POST /alarms/<id>/ack and FACS tours at POST
// /events/<event>/facs (GET: the event's last report).
//
// Callers (§6a): `http.tokens` names each bearer token and gives it a role (operator: may command and acknowledge;
// viewer: may only read); v1's single `http.token` is the operator `http`. A caller is known by its token's name,
// which the journal records as the command's `panel`. With any token configured, /audit (the journal: who did what,
// and when) needs one. /status, /alarms, /healthz, /readyz, /metrics, /events and the dashboard stay open: they are
// what monitoring, Prometheus and wall screens poll without credentials (the contract asks a token only of /audit),
// and they show state, not who acted; keep the endpoint on loopback or behind a firewall when that state is itself
// sensitive.
//
// node:http rather than fastify: about ten fixed routes, a streaming response (/audit) and a long-lived one (SSE)
// that want the raw response object anyway, and a daemon that runs for years on an edge server that cannot reach a
// registry: one dependency fewer to audit and patch is worth more than fastify's router and schema plumbing here.
// The few things fastify would give (body limit, timeouts, 404/405) are a handful of lines below, tested.
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
// printable: what a client sent, percent-decoded, shown in a reason as one line (found by test/status/parsers.test.ts)
import { AckBody, parsePayload, parseSetPayload, MAX_PAYLOAD_BYTES, printable } from '../control/payloads.ts'
import type { HttpToken } from '../domain/config.ts'
import type { FeedKey } from '../domain/model.ts'
import type { Secret } from '../domain/primitives.ts'
import { splitListen } from '../domain/primitives.ts'
import { resolveSecret, SecretError } from '../domain/secrets.ts'
import { parseFacsPayload } from '../facs/payload.ts'
import { AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, streamAudit } from './audit.ts'
import { StatusMetrics } from './metrics.ts'
import { MAX_SSE_BACKLOG, MAX_SSE_CLIENTS, PushChannel } from './push.ts'
import type { StatusDaemon } from './view.ts'

export interface StatusServerOptions {
	daemon: StatusDaemon
	/** HOST:PORT (config `http.listen`, default 127.0.0.1:8080); port 0 picks a free one */
	listen?: string | undefined
	/** config `http.token` (v1): a string or `{ env: NAME }`, the operator named `http` */
	token?: Secret | undefined
	/** config `http.tokens`; with neither, the endpoint is read-only and /audit is open */
	tokens?: readonly HttpToken[] | undefined
	env?: NodeJS.ProcessEnv | undefined
	log: Logger
	/** SSE heartbeat period (default 15 s) */
	heartbeatMs?: number
	/** /events clients at once (default 64); more get 503 */
	maxSseClients?: number
	/** unread bytes after which an /events client is dropped (default 1 MiB) */
	sseBacklogBytes?: number
}

export interface BoundAddress {
	host: string
	port: number
	/** http://HOST:PORT (IPv6 in brackets) */
	url: string
}

/** Longer request targets get 414; node itself answers 431 past its 16 KiB header limit. */
export const MAX_URL_LENGTH = 2048
/** request bodies (the MQTT set payload of docs/contract.md §5, same limit) */
export const MAX_BODY_BYTES = MAX_PAYLOAD_BYTES

const SECURITY_HEADERS: Record<string, string> = {
	// the dashboard loads only its own files and talks only to this server: nothing from a CDN, no inline script
	'content-security-policy':
		"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	'x-content-type-options': 'nosniff',
	'x-frame-options': 'DENY',
	'referrer-policy': 'no-referrer',
	'cross-origin-opener-policy': 'same-origin',
	'cross-origin-resource-policy': 'same-origin',
	'permissions-policy': 'camera=(), microphone=(), geolocation=()',
}

const DASHBOARD: Record<string, { file: string; type: string }> = {
	'/': { file: 'index.html', type: 'text/html; charset=utf-8' },
	'/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
	'/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
	'/feeds.css': { file: 'feeds.css', type: 'text/css; charset=utf-8' },
}

const GET = ['GET', 'HEAD']
const ROUTES: Record<string, string[]> = {
	'/status': GET,
	'/healthz': GET,
	'/readyz': GET,
	'/metrics': GET,
	'/audit': GET,
	'/alarms': GET,
	// not HEAD: a stream whose body is never sent would only hold a connection open
	'/events': ['GET'],
	...Object.fromEntries(Object.keys(DASHBOARD).map((p) => [p, GET])),
}
const SET_ROUTE = /^\/feeds\/([^/]+)\/([^/]+)\/set$/
/** GET: the event's last FACS report; POST (with the token): run a tour and answer with its report (§10) */
const FACS_ROUTE = /^\/events\/([^/]+)\/facs$/
/** an alarm's id holds `:` and `/` (at-risk:ev/pgm:paths): percent-encoded or not, all before the last /ack */
const ACK_ROUTE = /^\/alarms\/(.+)\/ack$/

/** A caller known by its bearer token (docs/contract.md §6a). */
export interface Caller {
	name: string
	role: 'operator' | 'viewer'
}

class HttpError extends Error {
	constructor(
		readonly status: number,
		message: string,
		readonly headers: Record<string, string> = {},
	) {
		super(message)
	}
}

export class StatusServer {
	private readonly server: Server
	private readonly push: PushChannel
	private readonly metrics: StatusMetrics
	private readonly log: Logger
	private readonly daemon: StatusDaemon
	/** each token's sha256: compared in constant time with the sha256 of what a client sends; empty: no tokens */
	private readonly callers: (Caller & { digest: Buffer })[]
	private readonly files = new Map<string, { body: Buffer; type: string }>()
	private readonly audits = new Set<AbortController>()
	private bound: BoundAddress | undefined
	private readonly startedAt = Date.now()
	/**
	 * /status is built once per change, not once per request: every state the daemon publishes goes out through
	 * its events, so any event makes the cached body stale; it is also rebuilt each second for uptimeS. Building it
	 * costs milliseconds with a hundred feeds (the daemon judges the contribution rule each time), and pollers
	 * (Prometheus, wall screens, scripts) must not take that time from the takes.
	 */
	private statusCache: { version: number; second: number; body: Buffer } | undefined
	private statusVersion = 0
	private readonly bumpStatus = (): void => {
		this.statusVersion++
	}

	constructor(private readonly o: StatusServerOptions) {
		this.daemon = o.daemon
		this.log = o.log.child({ part: 'http' })
		this.callers = callersOf(o)
		for (const [route, f] of Object.entries(DASHBOARD))
			this.files.set(route, { body: readFileSync(new URL(`./dashboard/${f.file}`, import.meta.url)), type: f.type })
		this.push = new PushChannel(o.daemon, this.log, o.heartbeatMs ?? 15_000, {
			clients: o.maxSseClients ?? MAX_SSE_CLIENTS,
			backlogBytes: o.sseBacklogBytes ?? MAX_SSE_BACKLOG,
		})
		this.metrics = new StatusMetrics(o.daemon, () => this.push.size)
		this.server = createServer({ noDelay: true, maxHeaderSize: 16 * 1024 }, (req, res) => this.handle(req, res))
		this.server.headersTimeout = 10_000
		this.server.requestTimeout = 15_000
		this.server.keepAliveTimeout = 5_000
	}

	get address(): BoundAddress | undefined {
		return this.bound
	}

	/** Listens; resolves with the bound address once connections are accepted. */
	async start(): Promise<BoundAddress> {
		const { host, port } = splitListen(this.o.listen ?? '127.0.0.1:8080')
		await new Promise<void>((resolve, reject) => {
			const onError = (err: Error): void =>
				reject(new Error(`status endpoint: cannot listen on ${host}:${port}`, { cause: err }))
			this.server.once('error', onError)
			this.server.listen(port, host, () => {
				this.server.off('error', onError)
				resolve()
			})
		})
		this.server.on('error', (err) => this.log.error({ err }, 'status endpoint error'))
		this.push.start()
		for (const e of ['feed', 'device', 'alarm', 'switch'] as const) this.daemon.events.on(e, this.bumpStatus)
		const addr = this.server.address() as AddressInfo
		const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
		this.bound = { host: addr.address, port: addr.port, url: `http://${h}:${addr.port}` }
		if (!isLoopback(addr.address))
			this.log.warn({ listen: `${h}:${addr.port}` }, 'the status endpoint listens beyond loopback')
		const callers = this.callers.map((c) => `${c.name} (${c.role})`)
		this.log.info(
			{ url: this.bound.url, callers },
			callers.length > 0
				? 'status endpoint up (commands with an operator token, /audit with any token)'
				: 'status endpoint up (read-only, no tokens)',
		)
		return this.bound
	}

	/** Ends every stream and connection; leaves no socket, timer or listener on the daemon. */
	async stop(): Promise<void> {
		this.push.stop()
		this.metrics.stop()
		for (const e of ['feed', 'device', 'alarm', 'switch'] as const) this.daemon.events.off(e, this.bumpStatus)
		for (const a of this.audits) a.abort()
		if (!this.server.listening) return
		const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
		this.server.closeAllConnections()
		await closed
	}

	// ---- dispatch ----------------------------------------------------------------------------------------------------

	private handle(req: IncomingMessage, res: ServerResponse): void {
		let route = 'unknown'
		res.on('finish', () => this.metrics.httpRequests.inc({ route, code: String(res.statusCode) }))
		this.dispatch(req, res, (r) => (route = r)).catch((err: unknown) => {
			if (err instanceof HttpError) return this.send(res, err.status, { error: err.message }, err.headers)
			this.log.error({ err, url: req.url?.slice(0, 200) }, 'status endpoint: request failed')
			if (!res.headersSent) this.send(res, 500, { error: 'internal error' })
			else res.destroy()
		})
	}

	private async dispatch(req: IncomingMessage, res: ServerResponse, setRoute: (r: string) => void): Promise<void> {
		const target = req.url ?? '/'
		if (target.length > MAX_URL_LENGTH)
			throw new HttpError(414, `the request target is over ${MAX_URL_LENGTH} characters`)
		if (!target.startsWith('/')) throw new HttpError(400, 'the request target must be a path')
		let url: URL
		try {
			url = new URL(target, 'http://status.invalid')
		} catch (err) {
			throw new HttpError(400, `bad request target: ${(err as Error).message}`)
		}
		const method = req.method ?? 'GET'
		const set = SET_ROUTE.exec(url.pathname)
		if (set) {
			setRoute('/feeds/set')
			if (method !== 'POST') throw new HttpError(405, `${method} is not allowed here`, { allow: 'POST' })
			return this.set(req, res, decode(set[1]!), decode(set[2]!))
		}
		const facs = FACS_ROUTE.exec(url.pathname)
		if (facs) {
			setRoute('/events/facs')
			return this.facs(req, res, method, decode(facs[1]!))
		}
		const ack = ACK_ROUTE.exec(url.pathname)
		if (ack) {
			setRoute('/alarms/ack')
			if (method !== 'POST') throw new HttpError(405, `${method} is not allowed here`, { allow: 'POST' })
			return this.ack(req, res, decode(ack[1]!))
		}
		const allowed = ROUTES[url.pathname]
		if (!allowed) throw new HttpError(404, `no such resource: ${url.pathname.slice(0, 100)}`)
		setRoute(url.pathname)
		if (!allowed.includes(method))
			throw new HttpError(405, `${method} is not allowed here`, { allow: allowed.join(', ') })
		switch (url.pathname) {
			case '/status':
				return this.sendRaw(res, 200, this.statusBody(), 'application/json; charset=utf-8')
			case '/healthz':
				return this.send(res, 200, { alive: true, uptimeS: Math.floor((Date.now() - this.startedAt) / 1000) })
			case '/readyz': {
				const r = this.daemon.readiness()
				return r.ready
					? this.send(res, 200, { ready: true })
					: this.send(res, 503, { ready: false, waiting: r.waiting })
			}
			case '/metrics': {
				const text = await this.metrics.text()
				return this.sendRaw(res, 200, text, this.metrics.contentType)
			}
			case '/audit':
				if (this.callers.length > 0) this.caller(req, 'viewer', '/audit')
				return this.audit(url, res)
			case '/alarms':
				return this.send(res, 200, this.daemon.alarmList(allParam(url)))
			case '/events':
				if (!this.push.accept(req, res, this.headers()))
					throw new HttpError(503, 'too many clients on /events', { 'retry-after': '5' })
				return
			default: {
				const f = this.files.get(url.pathname)!
				return this.sendRaw(res, 200, f.body, f.type, { 'cache-control': 'no-cache' })
			}
		}
	}

	private statusBody(): Buffer {
		const second = Math.floor(Date.now() / 1000)
		const c = this.statusCache
		if (c && c.version === this.statusVersion && c.second === second) return c.body
		const body = Buffer.from(`${JSON.stringify(this.daemon.status())}\n`)
		this.statusCache = { version: this.statusVersion, second, body }
		return body
	}

	// ---- /audit ------------------------------------------------------------------------------------------------------

	private async audit(url: URL, res: ServerResponse): Promise<void> {
		for (const k of url.searchParams.keys())
			if (k !== 'since' && k !== 'limit') throw new HttpError(400, `unknown query parameter "${printable(k, 40)}"`)
		const since = intParam(url, 'since', 0, Number.MAX_SAFE_INTEGER)
		const limit = intParam(url, 'limit', 1, AUDIT_MAX_LIMIT) ?? AUDIT_DEFAULT_LIMIT
		const abort = new AbortController()
		this.audits.add(abort)
		res.on('close', () => abort.abort())
		res.writeHead(200, { ...this.headers(), 'content-type': 'application/x-ndjson; charset=utf-8' })
		try {
			await streamAudit(this.daemon.journalDir, since ?? 0, limit, res, abort.signal, this.daemon.journalKey)
			res.end()
		} finally {
			this.audits.delete(abort)
		}
	}

	// ---- commands ----------------------------------------------------------------------------------------------------

	/** GET the last FACS report of an event; POST runs a tour (the answer waits for its end: tens of seconds). */
	private async facs(req: IncomingMessage, res: ServerResponse, method: string, event: string): Promise<void> {
		if (method === 'GET' || method === 'HEAD') {
			const last = this.daemon.facs.last(event)[0]
			if (!last) throw new HttpError(404, `no FACS tour of ${printable(event, 100)} since the daemon started`)
			return this.send(res, 200, last)
		}
		if (method !== 'POST') throw new HttpError(405, `${method} is not allowed here`, { allow: 'GET, HEAD, POST' })
		if (this.callers.length === 0)
			throw new HttpError(403, 'the status endpoint is read-only: a FACS tour needs http.tokens in the config')
		const caller = this.caller(req, 'operator', `/events/${printable(event, 100)}/facs`)
		const cmd = parseFacsPayload(await readBody(req, MAX_BODY_BYTES))
		if (!cmd.ok) throw new HttpError(400, cmd.error)
		const operator = cmd.operator ?? caller.name
		this.log.info({ event, feed: cmd.feed, operator, panel: caller.name }, 'FACS over http')
		const r = await this.daemon.facs.run({ event, feed: cmd.feed, operator, via: 'http' })
		if (!r.ok) throw new HttpError(r.status === 'bad-input' ? 400 : 409, r.error)
		this.send(res, 200, r.report)
	}

	private async set(req: IncomingMessage, res: ServerResponse, event: string, feed: string): Promise<void> {
		if (this.callers.length === 0)
			throw new HttpError(403, 'the status endpoint is read-only: commands need http.tokens in the config')
		const caller = this.caller(req, 'operator', `/feeds/${event}/${feed}/set`)
		const body = await readBody(req, MAX_BODY_BYTES)
		const key: FeedKey = `${event}/${feed}`
		if (!this.daemon.model.feeds.has(key)) throw new HttpError(404, `unknown feed ${printable(key, 200)}`)
		const parsed = parseSetPayload(body)
		if (!parsed.ok) throw new HttpError(400, parsed.error)
		const { operator, ...cmd } = parsed.command
		// the person is the payload's claim; the caller, proven by its token, is the panel (v1: both `http`)
		const name = operator ?? caller.name
		this.log.info(
			{ feed: key, action: cmd.action, path: cmd.path, operator: name, panel: caller.name },
			'command over http',
		)
		const result = await this.daemon.command(key, parsed.command, { name, via: 'http', panel: caller.name })
		this.send(res, result.ok ? 200 : 409, result)
	}

	/**
	 * The caller whose bearer token the request carries, allowed `need`: else 401 (no bearer token) or 403 (a token
	 * no caller has, or a viewer's where an operator is needed). Every token is compared, matched or not, so the
	 * time taken says nothing about which one was close. The token itself is never logged.
	 */
	private caller(req: IncomingMessage, need: Caller['role'], what: string): Caller {
		const auth = req.headers.authorization
		const m = auth !== undefined ? /^Bearer ([\x21-\x7e]+)$/.exec(auth) : null
		if (!m) throw new HttpError(401, 'a bearer token is required', { 'www-authenticate': 'Bearer realm="sigpath"' })
		const given = createHash('sha256').update(m[1]!).digest()
		let found: Caller | undefined
		for (const c of this.callers) if (timingSafeEqual(given, c.digest) && !found) found = { name: c.name, role: c.role }
		if (!found) {
			this.log.warn({ remote: req.socket.remoteAddress, what }, 'request refused: wrong token')
			throw new HttpError(403, 'wrong token')
		}
		if (need === 'operator' && found.role !== 'operator') {
			this.log.warn({ remote: req.socket.remoteAddress, what, caller: found.name }, 'request refused: viewer token')
			throw new HttpError(403, `token "${found.name}" has the viewer role: it may read, not command`)
		}
		return found
	}

	/** POST /alarms/<id>/ack: the body empty or `{ "operator" }`; 404 for an alarm not active (nothing changes). */
	private async ack(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
		if (this.callers.length === 0)
			throw new HttpError(403, 'the status endpoint is read-only: acknowledging needs http.tokens in the config')
		const caller = this.caller(req, 'operator', `/alarms/${printable(id, 200)}/ack`)
		const body = await readBody(req, MAX_BODY_BYTES)
		let operator: string | undefined
		if (body.length > 0) {
			const parsed = parsePayload(AckBody, body)
			if (!parsed.ok) throw new HttpError(400, parsed.error)
			operator = parsed.command.operator
		}
		const result = this.daemon.ackAlarm(id, { operator: operator ?? caller.name, panel: caller.name, via: 'http' })
		if (!result.ok) this.log.warn({ alarm: printable(id, 200), error: result.error }, 'acknowledgement refused')
		this.send(res, result.ok ? 200 : 404, result)
	}

	// ---- responses ---------------------------------------------------------------------------------------------------

	private headers(extra: Record<string, string> = {}): Record<string, string> {
		return { ...SECURITY_HEADERS, ...extra }
	}

	private send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
		this.sendRaw(res, status, `${JSON.stringify(body)}\n`, 'application/json; charset=utf-8', extra)
	}

	private sendRaw(
		res: ServerResponse,
		status: number,
		body: string | Buffer,
		type: string,
		extra: Record<string, string> = {},
	): void {
		res.writeHead(status, {
			...this.headers({ 'cache-control': 'no-store', ...extra }),
			'content-type': type,
			'content-length': String(Buffer.byteLength(body)),
		})
		res.end(body)
	}
}

/** The configured callers, each token resolved and hashed; two callers with one token would be one caller. */
function callersOf(o: StatusServerOptions): (Caller & { digest: Buffer })[] {
	const all: HttpToken[] = [
		...(o.token !== undefined ? [{ name: 'http', token: o.token, role: 'operator' as const }] : []),
		...(o.tokens ?? []),
	]
	const seen = new Map<string, string>()
	return all.map((t) => {
		const digest = createHash('sha256').update(resolveSecret(t.token, o.env)).digest()
		const other = seen.get(digest.toString('hex'))
		if (other !== undefined)
			throw new SecretError(`http.tokens: "${other}" and "${t.name}" have the same token; each caller needs its own`)
		seen.set(digest.toString('hex'), t.name)
		return { name: t.name, role: t.role, digest }
	})
}

function decode(s: string): string {
	try {
		return decodeURIComponent(s)
	} catch (err) {
		throw new HttpError(400, `bad percent-encoding in the path: ${(err as Error).message}`)
	}
}

/** A non-negative integer query parameter, given once, within [min, max]; absent: undefined. */
function intParam(url: URL, name: string, min: number, max: number): number | undefined {
	const all = url.searchParams.getAll(name)
	if (all.length === 0) return undefined
	if (all.length > 1) throw new HttpError(400, `${name} is given more than once`)
	const v = all[0]!
	if (!/^\d{1,16}$/.test(v)) throw new HttpError(400, `${name} must be a whole number, not "${printable(v, 40)}"`)
	const n = Number(v)
	if (!Number.isSafeInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be ${min}-${max}`)
	return n
}

/** `?all=1`: GET /alarms adds those cleared in the last hour; any other parameter or value is a 400. */
function allParam(url: URL): boolean {
	for (const k of url.searchParams.keys())
		if (k !== 'all') throw new HttpError(400, `unknown query parameter "${printable(k, 40)}"`)
	const all = url.searchParams.getAll('all')
	if (all.length === 0) return false
	if (all.length > 1 || (all[0] !== '1' && all[0] !== '0'))
		throw new HttpError(400, 'all must be given once, as 1 (with the alarms cleared in the last hour) or 0')
	return all[0] === '1'
}

/** Reads a request body up to `max` bytes; a larger one is refused with 413 (by its Content-Length unread). */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
	const declared = req.headers['content-length']
	if (declared !== undefined && Number(declared) > max) {
		req.resume() // let node discard it; the connection closes after the answer
		throw new HttpError(413, `the body is ${declared} bytes; at most ${max} are read`, { connection: 'close' })
	}
	const chunks: Buffer[] = []
	let size = 0
	for await (const chunk of req as AsyncIterable<Buffer>) {
		size += chunk.length
		if (size > max) {
			req.resume()
			throw new HttpError(413, `the body is over ${max} bytes`, { connection: 'close' })
		}
		chunks.push(chunk)
	}
	return Buffer.concat(chunks)
}

function isLoopback(addr: string): boolean {
	return addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.')
}
