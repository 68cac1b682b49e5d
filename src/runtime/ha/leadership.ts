// The site's leadership in etcd (docs/contract.md §9), with etcd's own primitives: a lease, a key created under it
// only if absent (a transaction on its create revision), and reads. Keys, under /sigpath/<site>/:
//   leader               the active node's name, under its lease (deleted by etcd when the lease ends)
//   nodes/<node>         every node, under its own lease: the active counts its standbys from these
//   feeds/<event>/<feed> { mode, locked } as the active keeps them, written only while it holds the leader key
//
// Timing (leaseMs L, 2000 by default):
// - the lease's TTL is L/1000 s (L is whole seconds, at least 2: etcd 3.4 raises a shorter TTL to its minimum);
// - a keep-alive every L/3; the fence (fence.ts) counts each from the instant it was SENT;
// - every tick (L/20, at most 250 ms) one linearizable read of the whole prefix; a node with a fresh lease that
//   finds no leader key creates it. etcd removes an expired lease's keys within ~500 ms of its TTL (its lease check
//   runs twice a second), so a standby is active within L + 500 ms + a tick of the active's death: inside L + 1000.
// No watch: a watch's reconnect backs off for up to 30 s after an outage; a read per tick costs etcd nothing and
// bounds the takeover. etcd3's own retry and circuit-breaker policies are off for the same reason: every call has a
// deadline, and the tick is the retry.
import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import { noop } from 'cockatiel'
import { Etcd3, EtcdLeaseInvalidError, type IKeyValue, type IOptions, type Lease } from 'etcd3'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { Ha } from '../../domain/ha.ts'
import { resolveSecret } from '../../domain/secrets.ts'
import { Fence } from './fence.ts'

export interface KeptFeed {
	mode: 'auto' | 'manual'
	locked: boolean
}
const KeptFeed = z.object({ mode: z.enum(['auto', 'manual']), locked: z.boolean() })

export interface LeadershipOptions {
	ha: Ha
	site: string
	node: string
	log: Logger
	env: NodeJS.ProcessEnv
	/** monotonic ms */
	now: () => number
}

export class Leadership extends EventEmitter<{ change: []; kept: [string[]] }> {
	readonly fence: Fence
	private readonly client: Etcd3
	private readonly prefix: string
	private readonly leaderKey: string
	private readonly nodeKey: string
	private readonly ttlS: number
	private readonly tickMs: number
	private lease: Lease | undefined
	private leaseId: string | undefined
	private leaseSeq = 0
	/** the last read: who holds the leader key, and whether it is this node's lease (its create revision) */
	private leader: { name: string; mine: boolean; revision: number } | null = null
	private readonly keptFeeds = new Map<string, KeptFeed & { rev: string }>()
	private others: string[] = []
	private lastRole: string | undefined
	private tickTimer: NodeJS.Timeout | undefined
	private kaTimer: NodeJS.Timeout | undefined
	private fenceTimer: NodeJS.Timeout | undefined
	private reachable: boolean | undefined
	private stopped = false
	private readonly writes = new Map<string, Promise<void>>()

	constructor(private readonly o: LeadershipOptions) {
		super()
		const ha = o.ha
		this.prefix = `/sigpath/${o.site}/`
		this.leaderKey = `${this.prefix}leader`
		this.nodeKey = `${this.prefix}nodes/${o.node}`
		this.ttlS = Math.round(ha.leaseMs / 1000)
		this.tickMs = Math.min(250, Math.round(ha.leaseMs / 20))
		this.fence = new Fence(ha.leaseMs, o.now)
		const e = ha.etcd
		const options: IOptions = {
			hosts: e.endpoints,
			dialTimeout: ha.leaseMs,
			faultHandling: { host: () => noop, global: noop },
			...(e.username !== undefined
				? { auth: { username: e.username, password: e.password ? resolveSecret(e.password, o.env) : '' } }
				: {}),
			...(e.tls
				? {
						credentials: {
							rootCertificate: readFileSync(e.tls.ca),
							...(e.tls.key ? { privateKey: readFileSync(e.tls.key) } : {}),
							...(e.tls.cert ? { certChain: readFileSync(e.tls.cert) } : {}),
						},
					}
				: {}),
		}
		this.client = new Etcd3(options)
	}

	/** Starts the ticks and keep-alives; resolves after the first read (or a failed try: etcd may come later). */
	async start(): Promise<void> {
		await this.tick()
		this.kaTimer = setInterval(() => this.keepalive(), Math.round(this.o.ha.leaseMs / 3))
	}

	/** A clean stop: the lease is revoked, so its keys go at once and a standby takes over without waiting for it. */
	async stop(): Promise<void> {
		this.stopped = true
		clearTimeout(this.tickTimer)
		clearInterval(this.kaTimer)
		clearTimeout(this.fenceTimer)
		const lease = this.lease
		this.dropLease()
		this.evaluate()
		await Promise.allSettled(this.writes.values())
		if (lease)
			await lease
				.revoke({ deadline: this.deadline() })
				.catch((err: unknown) => this.o.log.warn({ err: msg(err) }, 'etcd: lease not revoked at stop (it expires)'))
		this.client.close()
	}

	/** active: this node holds the leader key and its lease is valid by its own clock */
	role(): 'active' | 'standby' {
		return this.leader?.mine === true && this.fence.valid() ? 'active' : 'standby'
	}

	/** the active node's name as last read (this one only while its fence holds); null: none known */
	activeName(): string | null {
		if (!this.leader) return null
		if (this.leader.mine) return this.fence.valid() ? this.o.node : null
		return this.leader.name
	}

	/** the revision of the leader key's creation while this node holds it */
	revision(): number | null {
		return this.leader?.mine ? this.leader.revision : null
	}

	/** mode and lock per feed (event/feed) as etcd keeps them, from the last read */
	kept(): ReadonlyMap<string, KeptFeed> {
		return this.keptFeeds
	}

	/** the other nodes registered (standbys, from the active's point of view) */
	standbys(): readonly string[] {
		return this.others
	}

	/**
	 * Keeps a feed's mode and lock, only while this node holds the leader key (etcd compares its create revision:
	 * a node that lost it writes nothing). One write per feed at a time, the latest value last.
	 */
	keep(feed: string, value: KeptFeed): void {
		const rev = this.revision()
		if (rev === null || !this.fence.valid()) return
		const key = `${this.prefix}feeds/${feed}`
		const json = JSON.stringify(value)
		const next = (this.writes.get(feed) ?? Promise.resolve()).then(async () => {
			const r = await this.client
				.if(this.leaderKey, 'Create', '==', rev)
				.then(this.client.put(key).value(json))
				.options({ deadline: this.deadline() })
				.commit()
				.catch((err: unknown) => {
					this.o.log.warn({ feed, err: msg(err) }, 'etcd: mode and lock not kept')
					return null
				})
			if (r && !r.succeeded) this.o.log.warn({ feed }, 'etcd: mode and lock not kept: this node no longer leads')
			else if (r) this.keptFeeds.set(feed, { ...value, rev: r.header.revision })
		})
		this.writes.set(feed, next)
	}

	private deadline(): Date {
		return new Date(Date.now() + this.o.ha.leaseMs)
	}

	private async tick(): Promise<void> {
		if (this.stopped) return
		try {
			if (!this.lease) await this.grant()
			const res = await this.client.getAll().prefix(this.prefix).options({ deadline: this.deadline() }).exec()
			this.read(res.kvs)
			if (this.leader === null && this.lease && this.fence.valid()) await this.campaign()
			if (this.reachable === false) this.o.log.info('etcd reachable again')
			this.reachable = true
		} catch (err) {
			if (this.reachable !== false) this.o.log.warn({ err: msg(err) }, 'etcd unreachable: this node cannot lead')
			this.reachable = false
		}
		this.evaluate()
		if (!this.stopped) this.tickTimer = setTimeout(() => void this.tick(), this.tickMs)
	}

	private async grant(): Promise<void> {
		const sentAt = this.o.now()
		const lease = this.client.lease(this.ttlS, { autoKeepAlive: false, deadline: this.deadline() })
		// a lost lease is handled where its keep-alive fails; this listener only keeps the event from going unheard
		lease.on('lost', () => undefined)
		const id = await lease.grant()
		await lease
			.put(this.nodeKey)
			.value(JSON.stringify({ name: this.o.node }))
			.options({ deadline: this.deadline() })
		this.lease = lease
		this.leaseId = id
		this.leaseSeq++
		this.fence.granted(sentAt)
	}

	private keepalive(): void {
		const lease = this.lease
		if (!lease || this.stopped) return
		const seq = this.leaseSeq
		const sentAt = this.o.now()
		lease.keepaliveOnce({ deadline: this.deadline() }).then(
			() => {
				if (seq !== this.leaseSeq) return
				this.fence.granted(sentAt)
				this.evaluate()
			},
			(err: unknown) => {
				if (seq !== this.leaseSeq) return
				if (err instanceof EtcdLeaseInvalidError) {
					this.o.log.warn('etcd: the lease has expired (this node was cut off or paused too long)')
					this.dropLease()
					this.evaluate()
				} else this.o.log.debug({ err: msg(err) }, 'etcd: keep-alive failed')
			},
		)
	}

	private dropLease(): void {
		this.lease?.release()
		this.lease = undefined
		this.leaseId = undefined
		this.leaseSeq++
		this.fence.close()
		if (this.leader?.mine) this.leader = null
	}

	private async campaign(): Promise<void> {
		const r = await this.client
			.if(this.leaderKey, 'Create', '==', 0)
			.then(this.client.put(this.leaderKey).value(this.o.node).lease(this.leaseId!))
			.options({ deadline: this.deadline() })
			.commit()
		if (r.succeeded) this.leader = { name: this.o.node, mine: true, revision: Number(r.header.revision) }
	}

	private read(kvs: readonly IKeyValue[]): void {
		let leader: typeof this.leader = null
		const others: string[] = []
		let registered = false
		const changed: string[] = []
		const seen = new Set<string>()
		for (const kv of kvs) {
			const key = kv.key.toString()
			const rest = key.slice(this.prefix.length)
			if (key === this.leaderKey)
				leader = { name: kv.value.toString(), mine: kv.lease === this.leaseId, revision: Number(kv.create_revision) }
			else if (rest.startsWith('nodes/')) {
				const name = rest.slice('nodes/'.length)
				if (name === this.o.node) registered = kv.lease === this.leaseId
				else others.push(name)
			} else if (rest.startsWith('feeds/')) {
				const feed = rest.slice('feeds/'.length)
				seen.add(feed)
				if (this.keptFeeds.get(feed)?.rev === kv.mod_revision) continue
				const parsed = KeptFeed.safeParse(parseJson(kv.value.toString()))
				if (!parsed.success) continue
				this.keptFeeds.set(feed, { ...parsed.data, rev: kv.mod_revision })
				changed.push(feed)
			}
		}
		for (const feed of this.keptFeeds.keys()) if (!seen.has(feed)) this.keptFeeds.delete(feed)
		this.leader = leader
		this.others = others
		// our registration went (someone deleted it): put it back under our lease
		if (!registered && this.lease)
			void this.lease
				.put(this.nodeKey)
				.value(JSON.stringify({ name: this.o.node }))
				.catch((err: unknown) => this.o.log.debug({ err: msg(err) }, 'etcd: registration not renewed'))
		if (changed.length > 0) this.emit('kept', changed)
	}

	/** Emits `change` when the role or the active node changed; wakes itself when the fence is due to close. */
	private evaluate(): void {
		const now = `${this.role()} ${this.activeName() ?? '-'}`
		if (this.leader?.mine && this.fence.valid()) {
			clearTimeout(this.fenceTimer)
			this.fenceTimer = setTimeout(() => this.evaluate(), Math.max(1, this.fence.closesAt - this.o.now() + 1))
		}
		if (now === this.lastRole) return
		this.lastRole = now
		this.emit('change')
	}
}

function msg(err: unknown): string {
	return err instanceof Error ? err.message : String(err)
}

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text)
	} catch {
		return undefined
	}
}
