// The one SNMP trap and inform receiver of the daemon (top-level `traps: { listen, community }`, docs/contract.md §2).
//
// v2c traps and informs (RFC 3416 §4.2.6/§4.2.7) and v1 traps; an inform is acknowledged by net-snmp before the
// notification is handed on. A notification whose community is not the configured one is rejected: counted,
// logged (without the community it carried) and never delivered. Devices subscribe by their agent's address;
// the runtime routes nothing itself.
import { createSocket } from 'node:dgram'
import { isIP } from 'node:net'
import { EventEmitter } from 'node:events'
import * as snmp from 'net-snmp'
import type { Logger } from 'pino'
import { monotonicMs } from '../../src/clock.ts'
import { decodeVarbind, normalizeOid, type SnmpValue } from './codec.ts'

/** snmpTrapOID.0 (RFC 3418): the second varbind of every v2 notification names the trap. */
export const SNMP_TRAP_OID = '1.3.6.1.6.3.1.1.4.1.0'
const SYS_UPTIME = '1.3.6.1.2.1.1.3.0'
const PDU_INFORM = 166
const PDU_TRAP_V1 = 164

export interface Notification {
	/** the sender's address (IPv4-mapped IPv6 unwrapped) */
	from: string
	fromPort: number
	inform: boolean
	/** snmpTrapOID.0, or for a v1 trap the enterprise-specific OID built per RFC 3584 §3.1 */
	trapOid: string
	/** the varbinds after sysUpTime and snmpTrapOID */
	varbinds: SnmpValue[]
	/** monotonic ms when it arrived */
	at: number
}

export interface TrapReceiverEvents {
	notification: [n: Notification]
	rejected: [info: { from: string; reason: string }]
}

export interface TrapReceiverOptions {
	host: string
	/** 0 picks a free port (see `port` after start) */
	port: number
	community: string
	log: Logger
}

function unmap(address: string): string {
	return address.startsWith('::ffff:') ? address.slice(7) : address
}

/** net-snmp treats port 0 as "use the default": find a free UDP port ourselves. */
export async function freeUdpPort(host: string): Promise<number> {
	const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4')
	return new Promise((resolve, reject) => {
		sock.once('error', (err) => reject(new Error(`no free UDP port on ${host}`, { cause: err })))
		sock.bind(0, host, () => {
			const { port } = sock.address()
			sock.close(() => resolve(port))
		})
	})
}

export class TrapReceiver extends EventEmitter<TrapReceiverEvents> {
	#receiver: snmp.Receiver | null = null
	#port = 0
	#subs = new Map<string, Set<(n: Notification) => void>>()
	/** notifications refused (wrong community or user, malformed) since start */
	rejectedCount = 0
	receivedCount = 0

	constructor(private readonly options: TrapReceiverOptions) {
		super()
	}

	get port(): number {
		return this.#port
	}

	async start(): Promise<void> {
		if (this.#receiver) return
		const { host, log } = this.options
		this.#port = this.options.port === 0 ? await freeUdpPort(host) : this.options.port
		const receiver = snmp.createReceiver(
			{
				port: this.#port,
				address: host,
				transport: host.includes(':') ? 'udp6' : 'udp4',
				disableAuthorization: false,
				includeAuthentication: true,
			},
			(error, data) => {
				if (error) {
					const from = error.rinfo ? unmap(error.rinfo.address) : 'unknown'
					this.rejectedCount++
					// net-snmp's message names the community it refused: log our own words, not the secret
					const reason = error.name === 'RequestFailedError' ? 'not authorized' : error.name || 'invalid'
					log.warn({ from, reason }, 'snmp notification rejected')
					this.emit('rejected', { from, reason })
					return
				}
				if (data) this.#deliver(data)
			},
		)
		receiver.getAuthorizer().addCommunity(this.options.community)
		this.#receiver = receiver
		log.info({ host, port: this.#port }, 'snmp trap receiver listening')
	}

	/** Deliver notifications sent from `host` to `fn`; returns the unsubscribe. */
	subscribe(host: string, fn: (n: Notification) => void): () => void {
		const key = unmap(host)
		// notifications are matched by the sender's address: a host name never matches one
		if (isIP(key) === 0)
			this.options.log.warn({ host }, 'traps from a device given by host name cannot be matched: give its IP address')
		let set = this.#subs.get(key)
		if (!set) this.#subs.set(key, (set = new Set()))
		set.add(fn)
		return () => {
			set.delete(fn)
			if (set.size === 0) this.#subs.delete(key)
		}
	}

	/**
	 * How many devices listen to notifications from `host`. A notification carries the agent's address but not
	 * its port, so when several agents share one address (a lab on loopback, a chassis with one management IP)
	 * a notification cannot be told apart: those devices only poll on it.
	 */
	subscribersOf(host: string): number {
		return this.#subs.get(unmap(host))?.size ?? 0
	}

	async stop(): Promise<void> {
		const r = this.#receiver
		this.#receiver = null
		if (!r) return
		await new Promise<void>((resolve) => r.close(() => resolve()))
	}

	#deliver(data: snmp.Notification): void {
		const at = monotonicMs()
		const from = unmap(data.rinfo.address)
		const vbs = data.pdu.varbinds.map(decodeVarbind)
		let trapOid = ''
		let rest: SnmpValue[]
		if (data.pdu.type === PDU_TRAP_V1) {
			const pdu = data.pdu as unknown as { enterprise?: string; specific?: number; generic?: number }
			// RFC 3584 §3.1: enterprise-specific -> enterprise.0.specific; generic n -> snmpTraps.(n+1)
			trapOid =
				pdu.generic === 6
					? `${normalizeOid(pdu.enterprise ?? '')}.0.${pdu.specific ?? 0}`
					: `1.3.6.1.6.3.1.1.5.${(pdu.generic ?? 0) + 1}`
			rest = vbs
		} else {
			trapOid = String(vbs.find((v) => v.oid === SNMP_TRAP_OID)?.value ?? '')
			rest = vbs.filter((v) => v.oid !== SNMP_TRAP_OID && v.oid !== SYS_UPTIME)
		}
		const n: Notification = {
			from,
			fromPort: data.rinfo.port,
			inform: data.pdu.type === PDU_INFORM,
			trapOid,
			varbinds: rest,
			at,
		}
		this.receivedCount++
		this.emit('notification', n)
		for (const fn of this.#subs.get(from) ?? []) fn(n)
	}
}
