// This daemon as a node of a pair (docs/contract.md §9), or alone. The one Role object the takes, the command path
// and the MQTT client ask (role.ts), and what a role change does:
// - standby: the engine runs in shadow on every report; its decisions reach the takes, which the fence holds back.
//   What the router shows is the active node's doing: a crosspoint change is followed (a `follow` observation with
//   the path on air and the mode and lock the active keeps in etcd), never taken for an external take.
// - becoming active (a takeover): every started feed follows once more, from the router's crosspoint and etcd's
//   mode and lock; the engine keeps what it knew of every signal, so a failover already due is decided at that
//   instant and sent (the fence is open now), and nothing else moves. Then the retained state goes out again and
//   `online` is true.
// - active: every change of a feed's mode or lock is kept in etcd; `ha-standby-lost` when no other node has been
//   registered for 10 s.
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import { systemClock, type Clock } from '../../clock.ts'
import type { FeedState } from '../../control/payloads.ts'
import type { Config } from '../../domain/config.ts'
import type { FeedKey, FeedRef, Model } from '../../domain/model.ts'
import type { FeedState as Recovered } from '../../journal/index.ts'
import type { AlarmManager } from '../alarms.ts'
import type { EngineLoop } from '../loop.ts'
import type { Publisher } from '../publisher.ts'
import type { TallyFollower } from '../tally.ts'
import { Leadership } from './leadership.ts'
import { NodeLink } from './link.ts'
import { aloneRole, OPEN, standbyError, type NodeStatus, type Permit, type Role } from './role.ts'

/** how long the active goes without seeing a standby before `ha-standby-lost` */
export const STANDBY_LOST_MS = 10_000

export interface HaParts {
	loop: EngineLoop
	tally: TallyFollower
	alarms: AlarmManager
	publisher: Publisher
	/** every retained state out again on MQTT (this node became the active one) */
	republish: () => void
}

export interface HaOptions {
	config: Config
	/** this node's name (`--node`, SIGPATH_NODE); alone it defaults to the host name */
	node?: string | undefined
	log: Logger
	clock?: Clock | undefined
}

export class HaNode implements Role {
	readonly name: string
	private readonly log: Logger
	private readonly clock: Clock
	private readonly seat: Leadership | undefined
	private readonly link: NodeLink | undefined
	private readonly alone: Role
	private wasActive = false
	private standbySeenAt = 0
	private timer: NodeJS.Timeout | undefined
	private noActive: NodeJS.Timeout | undefined

	constructor(
		o: HaOptions,
		env: NodeJS.ProcessEnv,
		private readonly model: Model,
		private readonly parts: HaParts,
	) {
		const ha = o.config.ha
		if (ha && o.node === undefined) throw new Error('ha: this node needs a name: --node NAME or SIGPATH_NODE')
		this.name = o.node ?? hostname()
		this.log = o.log.child({ part: 'ha', node: this.name })
		this.clock = o.clock ?? systemClock
		this.alone = aloneRole(this.name)
		if (!ha) return
		const now = () => this.clock.monotonicMs()
		this.seat = new Leadership({ ha, site: o.config.site.id, node: this.name, log: this.log, env, now })
		this.link = new NodeLink(o.config, this.name, this.log, env)
	}

	/** What a pair's MQTT control client may say and answer; undefined alone. */
	pair(): { node: string; speaking: () => boolean; answers: () => boolean } | undefined {
		return this.seat ? { node: this.name, speaking: () => this.speaking(), answers: () => this.answers() } : undefined
	}

	status(): NodeStatus {
		const seat = this.seat
		if (!seat) return this.alone.status()
		const role = seat.role()
		const leaseRemainingMs = role === 'active' ? seat.fence.remainingMs() : null
		return { name: this.name, role, active: seat.activeName(), leaseRemainingMs }
	}

	mayRoute(): Permit {
		const seat = this.seat
		if (!seat) return OPEN
		if (seat.role() === 'active') return { ok: true, lease: seat.revision()! }
		if (seat.revision() !== null)
			return { ok: false, why: "this node's lease is not valid by its own clock (paused, or cut off from etcd)" }
		return { ok: false, why: standbyError(seat.activeName()) }
	}

	mayCommand(): Permit {
		const seat = this.seat
		if (!seat || seat.role() === 'active') return OPEN
		return { ok: false, why: standbyError(seat.activeName()) }
	}

	speaking(): boolean {
		return !this.seat || this.seat.role() === 'active'
	}

	answers(): boolean {
		return !this.seat || this.seat.role() === 'active' || this.seat.activeName() === null
	}

	/**
	 * Mode and lock per feed to start from: the journal's, with etcd's over them in a pair (the active kept those on
	 * every change; this node's own journal may be older).
	 */
	recovered(journal: ReadonlyMap<string, Recovered>): ReadonlyMap<string, Recovered> {
		if (!this.seat || this.seat.kept().size === 0) return journal
		const out = new Map(journal)
		for (const [feed, k] of this.seat.kept()) {
			const j = journal.get(feed)
			// a feed this node's journal never saw: the crosspoint is the router's (this is asked once it has synced)
			const ref = this.model.feeds.get(feed as FeedKey)
			const active = j ? j.active : ref ? (this.parts.tally.onAir(ref) ?? null) : null
			out.set(feed, { active, mode: k.mode, locked: k.locked, seq: j?.seq ?? 0 })
		}
		return out
	}

	/** A crosspoint change this node did not command: a standby follows it (true); the active judges it (false). */
	follow(ref: FeedRef, path: string | null): boolean {
		if (!this.seat || this.seat.role() === 'active') return false
		this.apply(ref.key, path, false)
		return true
	}

	/** Starts the node (alone: nothing); resolves after the first read of etcd, whatever it found. */
	async start(): Promise<void> {
		const seat = this.seat
		if (!seat) return
		this.link!.start()
		seat.on('change', () => this.changed())
		seat.on('kept', (feeds) => {
			if (seat.role() === 'active') return
			for (const f of feeds) {
				const ref = this.model.feeds.get(f as FeedKey)
				const onAir = ref ? this.parts.tally.onAir(ref) : undefined
				if (ref && onAir !== undefined) this.apply(ref.key, onAir, false)
			}
		})
		this.parts.publisher.events.on('feed', this.onFeed)
		await seat.start()
		this.link!.state(this.status())
		this.timer = setInterval(() => this.checkStandbys(), 1000)
	}

	/** A clean stop: the lease is revoked (a standby takes over at once), `online` false if this node was active. */
	async stop(): Promise<void> {
		if (!this.seat) return
		clearInterval(this.timer)
		clearTimeout(this.noActive)
		this.parts.publisher.events.off('feed', this.onFeed)
		await this.seat.stop()
		clearTimeout(this.noActive) // the stop's own role change armed it
		await this.link!.stop()
	}

	private readonly onFeed = (key: FeedKey, st: FeedState): void => {
		const seat = this.seat!
		if (seat.role() !== 'active') return
		const kept = seat.kept().get(key)
		if (kept?.mode !== st.mode || kept.locked !== st.locked) seat.keep(key, { mode: st.mode, locked: st.locked })
	}

	private changed(): void {
		const s = this.status()
		// no node active for longer than a takeover takes: the site is not controlled (etcd lost, say)
		clearTimeout(this.noActive)
		if (s.active === null)
			this.noActive = setTimeout(() => {
				if (this.seat?.activeName() === null) this.link!.offline()
			}, this.seat!.fence.leaseMs + 1000)
		if (s.role === 'active' && !this.wasActive) this.takeover()
		else if (s.role !== 'active' && this.wasActive) {
			this.wasActive = false
			this.link!.active(false)
			this.parts.alarms.hold({
				id: 'ha-standby-lost',
				code: 'ha-standby-lost',
				active: false,
				message: '',
				cleared: `ha-standby-lost: ${this.name} is no longer the active node`,
			})
			this.log.warn({ active: s.active }, `standby now; ${s.active ? `active is ${s.active}` : 'no node is active'}`)
		} else if (s.role !== 'active') this.log.info({ active: s.active }, `standby; active is ${s.active ?? 'none'}`)
		this.link!.state(this.status())
		this.parts.publisher.events.emit('node', this.status())
	}

	/** This node became the active one: every feed from the router and etcd, a due failover at once. */
	private takeover(): void {
		const seat = this.seat!
		this.wasActive = true
		this.standbySeenAt = this.clock.monotonicMs()
		this.log.warn({ lease: seat.revision() }, 'active now: this node leads the site')
		for (const ref of this.model.feeds.values()) {
			const snap = this.parts.loop.engine.feedSnapshot(ref.key)
			if (!snap.started) continue // it starts from its router's crosspoint and etcd's mode and lock
			const onAir = this.parts.tally.onAir(ref)
			this.apply(ref.key, onAir !== undefined ? onAir : snap.active, true)
			const after = this.parts.loop.engine.feedSnapshot(ref.key)
			const kept = seat.kept().get(ref.key)
			if (kept?.mode !== after.mode || kept.locked !== after.locked)
				seat.keep(ref.key, { mode: after.mode, locked: after.locked })
		}
		this.link!.active(true)
		this.parts.republish()
	}

	/** The active node's state of a feed, as a `follow` observation (`always`: even when nothing differs). */
	private apply(feed: FeedKey, active: string | null, always: boolean): void {
		const loop = this.parts.loop
		const snap = loop.engine.feedSnapshot(feed)
		if (!snap.started) return
		const kept = this.seat!.kept().get(feed)
		const same = snap.active === active && (!kept || (kept.mode === snap.mode && kept.locked === snap.locked))
		if (same && !always) return
		const keep = kept ? { mode: kept.mode, locked: kept.locked } : {}
		loop.apply({ type: 'follow', t: loop.now(), feed, active, ...keep }, 'ha')
	}

	private checkStandbys(): void {
		const seat = this.seat!
		if (seat.role() !== 'active') return
		const now = this.clock.monotonicMs()
		if (seat.standbys().length > 0) this.standbySeenAt = now
		const lost = now - this.standbySeenAt >= STANDBY_LOST_MS
		const others = seat.standbys().join(', ')
		this.parts.alarms.hold({
			id: 'ha-standby-lost',
			code: 'ha-standby-lost',
			active: lost,
			message: `no standby node registered in etcd for ${STANDBY_LOST_MS / 1000} s: if ${this.name} fails, no node takes over`,
			cleared: `a standby is registered again (${others})`,
		})
	}
}
