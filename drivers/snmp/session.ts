// A typed SNMP manager session over npm net-snmp, owning the library's error path.
//
// Quirks this file exists for:
// - net-snmp's default version is SNMPv1; sigpath speaks v2c unless v3 is configured (GETBULK needs v2c, RFC 3416 §4.2.3).
// - Session.onError re-emits a socket error as `emit(error)`: the Error object becomes the event *name*, so no
//   'error' listener ever sees it. We listen on the session's own dgram socket and own the error.
// - A malformed reply makes the Session emit a real 'error'; without a listener that would throw out of the
//   socket callback and take the daemon down. We always listen.
// - Requests pending when the socket closes are cancelled by net-snmp with a plain Error; we wrap every failure
//   in SnmpError with a kind and the cause.
import * as snmp from 'net-snmp'
import type { ResolvedSnmpV3 } from '../../src/domain/drivers.ts'
import { decodeVarbind, normalizeOid, type SnmpValue } from './codec.ts'

/**
 * `invalid`: a malformed message (the SNMP layer failed); `unusable`: a well-formed answer its consumer refused (the
 * object it needs is missing or not a value it can read: the agent is fine, the device behind it may not be)
 */
export type SnmpErrorKind = 'timeout' | 'error-status' | 'socket' | 'closed' | 'invalid' | 'unusable'

export class SnmpError extends Error {
	override name = 'SnmpError'
	constructor(
		message: string,
		readonly kind: SnmpErrorKind,
		options?: { cause?: unknown },
	) {
		super(message, options)
	}
}

/** Where and how to reach one agent: the common keys of the snmp and snmp-ups drivers, secrets resolved by the caller. */
export interface SnmpTargetConfig {
	host: string
	port: number
	community?: string | undefined
	v3?: ResolvedSnmpV3 | undefined
	timeoutMs: number
	retries: number
}

export interface SnmpSessionOptions {
	/** called for socket-level errors that belong to no request (the session stays usable) */
	onError?: (err: SnmpError) => void
}

function transportOf(host: string): 'udp4' | 'udp6' {
	return host.includes(':') ? 'udp6' : 'udp4'
}

export class SnmpSession {
	readonly #session: snmp.Session
	#closed = false
	readonly #target: string

	constructor(cfg: SnmpTargetConfig, opts: SnmpSessionOptions = {}) {
		this.#target = `${cfg.host}:${cfg.port}`
		const base: snmp.SessionOptions = {
			port: cfg.port,
			// net-snmp counts retries after the first try and waits `timeout` for each: a dead agent costs
			// timeoutMs * (retries + 1), which is bounded and per session (one dead device never delays another).
			retries: cfg.retries,
			timeout: cfg.timeoutMs,
			backoff: 1,
			transport: transportOf(cfg.host),
		}
		if (cfg.v3) {
			const v3 = cfg.v3
			const user: snmp.User = {
				name: v3.user,
				level: v3.privKey !== undefined ? snmp.SecurityLevel.authPriv : snmp.SecurityLevel.authNoPriv,
				authProtocol: snmp.AuthProtocols[v3.authProtocol] ?? 0,
				authKey: v3.authKey,
			}
			if (v3.privKey !== undefined) {
				user.privProtocol = snmp.PrivProtocols[v3.privProtocol] ?? 0
				user.privKey = v3.privKey
			}
			this.#session = snmp.createV3Session(cfg.host, user, { ...base, version: snmp.Version3, context: v3.context })
		} else {
			const community = cfg.community ?? 'public'
			this.#session = snmp.createSession(cfg.host, community, { ...base, version: snmp.Version2c })
		}
		const onError = opts.onError
		const report = (err: unknown, kind: SnmpErrorKind, what: string) => {
			const e = new SnmpError(`snmp ${this.#target}: ${what}`, kind, { cause: err })
			if (onError) onError(e)
		}
		this.#session.on('error', (err: unknown) => report(err, 'invalid', 'malformed message from agent'))
		this.#session.dgram.on('error', (err: Error) => report(err, 'socket', `socket error: ${err.message}`))
	}

	get closed(): boolean {
		return this.#closed
	}

	/** GET (RFC 3416 §4.2.1). Resolves with one value per OID, keyed by OID without a leading dot. */
	get(oids: readonly string[]): Promise<Map<string, SnmpValue>> {
		if (this.#closed) return Promise.reject(new SnmpError(`snmp ${this.#target}: session closed`, 'closed'))
		const wanted = oids.map(normalizeOid)
		return new Promise((resolve, reject) => {
			try {
				this.#session.get(wanted, (error, varbinds) => {
					if (error) return reject(this.#wrap(error, 'GET'))
					const out = new Map<string, SnmpValue>()
					for (const vb of varbinds ?? []) {
						const v = decodeVarbind(vb)
						out.set(v.oid, v)
					}
					resolve(out)
				})
			} catch (err) {
				reject(this.#wrap(err, 'GET'))
			}
		})
	}

	/**
	 * GETBULK (RFC 3416 §4.2.3): `scalars` are fetched once (non-repeaters), each of `columns` walked for
	 * `maxRepetitions` successors. Values after the end of a column's subtree are dropped.
	 */
	getBulk(
		scalars: readonly string[],
		columns: readonly string[],
		maxRepetitions: number,
	): Promise<Map<string, SnmpValue>> {
		if (this.#closed) return Promise.reject(new SnmpError(`snmp ${this.#target}: session closed`, 'closed'))
		const nonRep = scalars.map(normalizeOid)
		// a non-repeater is a GETNEXT: ask for the successor of the scalar's object, which is its instance `.0`
		const nonRepAsk = nonRep.map((s) => (s.endsWith('.0') ? s.slice(0, -2) : s))
		const cols = columns.map(normalizeOid)
		return new Promise((resolve, reject) => {
			try {
				this.#session.getBulk([...nonRepAsk, ...cols], nonRep.length, maxRepetitions, (error, varbinds) => {
					if (error) return reject(this.#wrap(error, 'GETBULK'))
					const out = new Map<string, SnmpValue>()
					for (const item of varbinds ?? []) {
						for (const vb of Array.isArray(item) ? item : [item]) {
							const v = decodeVarbind(vb)
							if (v.type === 'missing') continue
							out.set(v.oid, v)
						}
					}
					// a GETNEXT answered with some later OID (the scalar does not exist) is not that scalar: drop it
					for (const [oid] of out)
						if (!nonRep.some((s) => oid === s) && !cols.some((c) => oid.startsWith(`${c}.`))) out.delete(oid)
					resolve(out)
				})
			} catch (err) {
				reject(this.#wrap(err, 'GETBULK'))
			}
		})
	}

	close(): void {
		if (this.#closed) return
		this.#closed = true
		try {
			this.#session.close()
		} catch (err) {
			// closing an already-closed dgram socket throws ERR_SOCKET_DGRAM_NOT_RUNNING: nothing left to release
			if (!(err instanceof Error && 'code' in err && err.code === 'ERR_SOCKET_DGRAM_NOT_RUNNING')) throw err
		}
	}

	#wrap(err: unknown, op: string): SnmpError {
		if (err instanceof SnmpError) return err
		const name = err instanceof Error ? err.name : ''
		const msg = err instanceof Error ? err.message : String(err)
		const kind: SnmpErrorKind =
			name === 'RequestTimedOutError'
				? 'timeout'
				: name === 'RequestFailedError'
					? 'error-status'
					: this.#closed || msg.includes('closed')
						? 'closed'
						: name === 'ResponseInvalidError'
							? 'invalid'
							: 'socket'
		return new SnmpError(`snmp ${op} ${this.#target}: ${msg}`, kind, { cause: err })
	}
}
