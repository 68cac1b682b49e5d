// MQTT control of docs/contract.md §5: hardware panels send `set` commands and acknowledge alarms (`alarms/ack`);
// sigpath publishes retained feed and device state, its `online` flag (with a last will), each alarm's lifecycle and
// the active alarms (retained, §7). MQTT.js does the protocol; this file owns the topics, the
// validation, the replies and the rules that keep a panel from moving a crosspoint by accident:
//   - every payload is validated (size first, then JSON, then zod); a bad one changes nothing and gets a reply;
//   - commands of one feed run one at a time, in arrival order;
//   - a QoS 1 redelivery (DUP) of a command already handled is answered again, not executed again;
//   - retained state is published only after the runtime's first full sync, and again after every reconnect
//     (a broker restarted without persistence has lost it);
//   - panel identity (§5a): on `sigpath/<site>/panels/<panel>/...` the broker's ACL (`pattern readwrite
//     sigpath/+/panels/%u/#`) lets only the MQTT user <panel> publish, so the topic proves who sent the command; a
//     reply goes only where that panel alone may read it (replyTarget below), never on a topic a panel chose elsewhere.
import { readFileSync } from 'node:fs'
import { Socket } from 'node:net'
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import type { FeedKey } from '../domain/model.ts'
import {
	parseAckPayload,
	parseSetPayload,
	printable,
	type AckCommand,
	type AckResult,
	type Alarm,
	type AlarmRecord,
	type CommandResult,
	type DeviceState,
	type FeedState,
	type JournalHeadState,
	type SetCommand,
} from './payloads.ts'

export interface Operator {
	/** the person recorded in the journal as `operator`: a claim, or the panel's name when nobody is named */
	name: string
	/** how it was learned: the payload's claim, a v5 user property, the panel's topic, a v1 reply topic, or nothing */
	source: 'payload' | 'user-property' | 'panel' | 'reply-topic' | 'unknown'
	via: 'mqtt'
	/** the MQTT user its topic proves (`sigpath/<site>/panels/<panel>/...`); null on the v1 topic, which proves nothing */
	panel: string | null
}

export type CommandHandler = (feed: FeedKey, command: SetCommand, operator: Operator) => Promise<CommandResult>

export type ExtraHandler = (
	topic: string,
	payload: Buffer,
	props: { responseTopic?: string; correlationData?: Buffer },
) => void

/** An MQTT topic filter with `+` (one level) and a final `#` against a topic. */
export function topicMatches(filter: string, topic: string): boolean {
	const f = filter.split('/')
	const t = topic.split('/')
	for (let i = 0; i < f.length; i++) {
		if (f[i] === '#') return true
		if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false
	}
	return f.length === t.length
}

/**
 * An alarm acknowledgement (docs/contract.md §7): from a panel's `panels/<panel>/alarms/ack` (`panel` proven by the
 * topic), or from the shared `alarms/ack` (panel null, like a v1 command); `operator` the claim of the payload or of
 * a v5 user property.
 */
export type AckHandler = (command: AckCommand, operator: Operator, panel: string | null) => AckResult

/** A message on one of the topics the daemon subscribes to, as its topic says. */
export type Route = { kind: 'set'; feed: FeedKey; panel: string | null } | { kind: 'ack'; panel: string | null }

/** A panel name goes into the journal and the logs as it is: one printable line of bounded length. */
const MAX_PANEL_CHARS = 128

/**
 * What a topic under `base` asks for: a v1 `feeds/<event>/<feed>/set` (panel null), a panel's
 * `panels/<panel>/feeds/<event>/<feed>/set` or `panels/<panel>/alarms/ack`; anything else undefined.
 */
export function routeOf(base: string, topic: string): Route | undefined {
	if (!topic.startsWith(`${base}/`)) return undefined
	const p = topic.slice(base.length + 1).split('/')
	if (p.length === 4 && p[0] === 'feeds' && p[3] === 'set')
		return { kind: 'set', feed: `${p[1]}/${p[2]}` as FeedKey, panel: null }
	if (p.length === 2 && p[0] === 'alarms' && p[1] === 'ack') return { kind: 'ack', panel: null }
	if (p[0] !== 'panels' || !p[1]) return undefined
	if (p.length === 6 && p[2] === 'feeds' && p[5] === 'set')
		return { kind: 'set', feed: `${p[3]}/${p[4]}` as FeedKey, panel: p[1] }
	if (p.length === 4 && p[2] === 'alarms' && p[3] === 'ack') return { kind: 'ack', panel: p[1] }
	return undefined
}

/**
 * Where the reply to a command on `topic` goes (docs/contract.md §5a). The default is `<topic>/result`: the v1
 * `feeds/<event>/<feed>/set/result`, or, for a panel, `panels/<panel>/.../result`, which only that panel can read.
 * A v5 response topic is honoured only when it lies where the same panel alone may read it:
 * `sigpath/<site>/replies/<panel>` and below (`pattern read sigpath/+/replies/%u/#`), or the default itself.
 * Anything else (`sigpath/<site>/alarms`, another panel's replies, another site, a topic outside sigpath) is not
 * published to: the reply goes to the default, with `ignored` saying why.
 *
 * A v1 command honours no response topic at all. Its topic proves nothing about who sent it, so a response topic
 * under `replies/<x>/` cannot be checked against the sender: honouring it would let any panel make sigpath publish
 * a reply, with correlation data of the sender's choosing, into another panel's reply space (a panel that counts its
 * correlation data would then show a refusal for a take it never sent). Its reply goes to the v1 `.../set/result`,
 * the topic every v1 panel may already read, with the request's correlation data: nothing new is exposed, and a
 * panel that wants its replies in its own space sends on its panel topic.
 */
export function replyTarget(
	base: string,
	topic: string,
	panel: string | null,
	responseTopic: string | undefined,
): { topic: string; ignored?: string } {
	const fallback = `${topic}/result`
	if (responseTopic === undefined || responseTopic === fallback) return { topic: fallback }
	if (panel === null) return { topic: fallback, ignored: 'a command on the v1 topic gets its reply on set/result' }
	const own = `${base}/replies/${panel}`
	const wildcard = ['+', '#', '\0'].some((c) => responseTopic.includes(c))
	if (!wildcard && (responseTopic === own || responseTopic.startsWith(`${own}/`))) return { topic: responseTopic }
	return { topic: fallback, ignored: `outside panel ${panel}'s space (${own}/...)` }
}

export interface MqttControlOptions {
	site: string
	url: string
	username?: string
	/** resolved secret */
	password?: string
	clientId: string
	tls?: { ca?: string; cert?: string; key?: string }
	/** feeds that exist: a command for any other gets an error reply */
	feeds: ReadonlySet<string>
	handler: CommandHandler
	/** alarm acknowledgements; absent: the panel is told acknowledgement is not available */
	ack?: AckHandler | undefined
	log: Logger
	/** MQTT protocol version: 5 (default, request/response) or 4 (3.1.1) */
	protocolVersion?: 4 | 5
	reconnectPeriodMs?: number
	connectTimeoutMs?: number
	/**
	 * A pair's node (docs/contract.md §9): false, this client neither publishes `online` nor leaves it as its last
	 * will (the active node's own link does); `speaking` false (a standby), retained state and alarms are kept, not
	 * sent; `answers` false, a command is left to the node that answers it (the active): a panel gets one reply.
	 */
	online?: boolean
	speaking?: () => boolean
	answers?: () => boolean
}

const DEDUPE_MS = 60_000

export class MqttControl {
	readonly base: string
	private client: MqttClient | undefined
	private synced = false
	private readonly retained = new Map<string, string>()
	private readonly feedQueues = new Map<string, Promise<void>>()
	private readonly handled = new Map<string, { at: number; reply: CommandResult | AckResult }>()
	private stopping = false
	/** commands beside `set` (FACS): topic filter -> handler, subscribed on every connect */
	private readonly extra = new Map<string, ExtraHandler>()

	constructor(private readonly o: MqttControlOptions) {
		this.base = `sigpath/${o.site}`
	}

	get connected(): boolean {
		return this.client?.connected ?? false
	}

	/**
	 * Connects (MQTT.js keeps reconnecting), subscribes to the v1 `set` topics and the panels' `set` and `ack` topics.
	 * Resolves on the first connect.
	 */
	async start(): Promise<void> {
		const o = this.o
		const options: IClientOptions = {
			clientId: o.clientId,
			protocolVersion: o.protocolVersion ?? 5,
			// a persistent session, so that a command sent during a short drop is not lost; it expires after 30 s so
			// that a command is never executed long after the operator pressed the button
			clean: false,
			reconnectPeriod: o.reconnectPeriodMs ?? 1000,
			connectTimeout: o.connectTimeoutMs ?? 5000,
			...(o.online === false
				? {}
				: { will: { topic: `${this.base}/online`, payload: Buffer.from('false'), qos: 1, retain: true } }),
			...(o.protocolVersion === 4 ? {} : { properties: { sessionExpiryInterval: 30 } }),
			...(o.username !== undefined ? { username: o.username } : {}),
			...(o.password !== undefined ? { password: o.password } : {}),
			...(o.tls?.ca ? { ca: readFileSync(o.tls.ca) } : {}),
			...(o.tls?.cert ? { cert: readFileSync(o.tls.cert) } : {}),
			...(o.tls?.key ? { key: readFileSync(o.tls.key) } : {}),
		}
		const client = mqtt.connect(o.url, options)
		this.client = client
		client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet))
		// started means subscribed: a command sent the moment start() resolves must not be lost
		let settleSubscribe: ((err?: Error) => void) | undefined
		const subscribed = new Promise<void>((resolve, reject) => {
			settleSubscribe = (err) =>
				err ? reject(new Error(`mqtt: cannot subscribe to the set topics: ${err.message}`, { cause: err })) : resolve()
		})
		client.on('connect', (ack) => {
			// Nagle's algorithm holds small writes back ~40 ms behind delayed ACKs: a reply to a panel must not wait
			if (client.stream instanceof Socket) client.stream.setNoDelay(true)
			o.log.info({ url: o.url, sessionPresent: ack.sessionPresent }, 'mqtt connected')
			for (const filter of this.extra.keys()) this.subscribeExtra(filter)
			const topics = [
				`${this.base}/feeds/+/+/set`,
				`${this.base}/panels/+/feeds/+/+/set`,
				`${this.base}/panels/+/alarms/ack`,
				`${this.base}/alarms/ack`,
			]
			client.subscribe(topics, { qos: 1 }, (err) => {
				if (err) o.log.error({ err }, 'mqtt subscribe failed')
				settleSubscribe?.(err ?? undefined)
				settleSubscribe = undefined
			})
			if (this.synced) this.republish()
		})
		client.on('reconnect', () => o.log.debug('mqtt reconnecting'))
		client.on('offline', () => o.log.warn('mqtt offline'))
		client.on('error', (err) => o.log.error({ err: err.message }, 'mqtt error'))
		await new Promise<void>((resolve, reject) => {
			const onConnect = () => {
				client.off('error', onError)
				resolve()
			}
			const onError = (err: Error) => {
				// a refused connection (bad credentials) is final: MQTT.js would retry forever
				if ('code' in err && typeof err.code === 'number') {
					client.off('connect', onConnect)
					client.end(true)
					reject(new Error(`mqtt: ${err.message}`, { cause: err }))
				}
			}
			client.once('connect', onConnect)
			client.on('error', onError)
		})
		try {
			await subscribed
		} catch (err) {
			await client.endAsync(true)
			throw err
		}
	}

	/** The runtime's first full sync is done: retained state may be published from now on. */
	markSynced(): void {
		if (this.synced) return
		this.synced = true
		this.republish()
	}

	publishFeedState(feed: FeedKey, state: FeedState): void {
		this.retain(`${this.base}/feeds/${feed}/state`, JSON.stringify(state))
	}

	publishDeviceState(device: string, state: DeviceState): void {
		this.retain(`${this.base}/devices/${device}/state`, JSON.stringify(state))
	}

	/**
	 * The journal's head, retained. Sent every time, even unchanged: "at least every 10 s" (§8) is what lets a keeper
	 * of the head tell a quiet journal from a daemon that stopped publishing.
	 */
	publishJournalHead(head: JournalHeadState): void {
		const topic = `${this.base}/journal/head`
		const payload = JSON.stringify(head)
		this.retained.set(topic, payload)
		if (this.synced) this.send(topic, payload)
	}

	publishAlarm(alarm: Alarm): void {
		if (this.o.speaking?.() === false) return
		if (!this.client?.connected) {
			this.o.log.warn({ alarm }, 'mqtt down: alarm not published (it is journaled)')
			return
		}
		this.client.publish(`${this.base}/alarms`, JSON.stringify(alarm), { qos: 1, retain: false }, (err) => {
			if (err) this.o.log.error({ err: err.message }, 'mqtt alarm publish failed')
		})
	}

	/**
	 * Publishes online=false (retained), waits for the broker to take it, and disconnects. `offline: false` (a reload,
	 * where a new client takes over at once) disconnects cleanly without saying offline.
	 */
	async stop(options: { offline?: boolean } = {}): Promise<void> {
		const client = this.client
		if (!client || this.stopping) return
		this.stopping = true
		if (client.connected && options.offline !== false && this.o.online !== false) {
			await new Promise<void>((resolve) => {
				client.publish(`${this.base}/online`, 'false', { qos: 1, retain: true }, (err) => {
					if (err) this.o.log.warn({ err: err.message }, 'mqtt: online=false not acknowledged')
					resolve()
				})
			})
		}
		await client.endAsync()
		this.client = undefined
	}

	/** Another command topic (a filter under the base, `+` wildcards): subscribed now and on every reconnect. */
	handle(filter: string, handler: ExtraHandler): void {
		this.extra.set(filter, handler)
		if (this.client?.connected) this.subscribeExtra(filter)
	}

	/** Retained state of another kind (FACS results): published once synced, and again after every reconnect. */
	publishRetained(topic: string, payload: string): void {
		this.retain(topic, payload)
	}

	/** A reply to a command of another kind, with its correlation data. */
	publishReply(topic: string, payload: string, correlation?: Buffer): void {
		this.reply(topic, correlation, payload)
	}

	private subscribeExtra(filter: string): void {
		this.client?.subscribe(filter, { qos: 1 }, (err) => {
			if (err) this.o.log.error({ err, filter }, 'mqtt subscribe failed')
		})
	}

	private retain(topic: string, payload: string): void {
		if (this.retained.get(topic) === payload) return // a repeated state changes nothing
		this.retained.set(topic, payload)
		if (this.synced) this.send(topic, payload)
	}

	/** Every retained state again (a reconnect; a pair's node that becomes the active one). */
	republish(): void {
		if (!this.synced) return // nothing is published before the first full sync
		if (this.o.online !== false) this.send(`${this.base}/online`, 'true')
		for (const [topic, payload] of this.retained) this.send(topic, payload)
	}

	private send(topic: string, payload: string): void {
		const client = this.client
		if (!client?.connected) return // republished on the next connect
		if (this.o.speaking?.() === false) return // a standby: republished when it becomes the active node
		client.publish(topic, payload, { qos: 1, retain: true }, (err) => {
			if (err) this.o.log.error({ err: err.message, topic }, 'mqtt publish failed')
		})
	}

	/** The active alarms, retained on `alarms/active` (a JSON array, newest first). */
	publishActiveAlarms(alarms: readonly AlarmRecord[]): void {
		this.retain(`${this.base}/alarms/active`, JSON.stringify(alarms))
	}

	private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
		const extra = [...this.extra].find(([filter]) => topicMatches(filter, topic))?.[1]
		const route = routeOf(this.base, topic)
		if (!route && !extra) return
		if (this.o.answers?.() === false) return // a pair's standby: the active answers (§9)
		// a retained command is delivered again on every (re)subscription: executing it would repeat an old button
		// press at each reconnect. Live messages reach us with retain cleared, so only a stored one is dropped here.
		if (packet.retain) {
			this.o.log.warn({ topic: printable(topic, 200) }, 'mqtt: a retained command is ignored (publish it unretained)')
			return
		}
		if (extra) return extra(topic, payload, packet.properties ?? {})
		if (!route) return
		const props = packet.properties
		const target = replyTarget(this.base, topic, route.panel, props?.responseTopic)
		if (target.ignored)
			this.o.log.info(
				{ responseTopic: printable(props?.responseTopic ?? '', 200), replyTo: target.topic },
				`mqtt: response topic not used: ${target.ignored}`,
			)
		const replyTo = target.topic
		const correlation = props?.correlationData
		const dedupeKey = `${topic}\0${correlation?.toString('hex') ?? ''}\0${payload.toString('base64')}`
		const now = Date.now()
		for (const [k, v] of this.handled) if (now - v.at > DEDUPE_MS) this.handled.delete(k)
		const previous = this.handled.get(dedupeKey)
		if (packet.dup && previous) {
			this.o.log.info({ topic: printable(topic, 200) }, 'mqtt: redelivered command answered again, not executed again')
			this.reply(replyTo, correlation, previous.reply)
			return
		}
		const where = route.kind === 'set' ? route.feed : `${route.panel ?? 'shared'} ack`
		const refuse = (error: string) => this.finish(dedupeKey, replyTo, correlation, { ok: false, error }, where)
		if (route.panel !== null && printable(route.panel, MAX_PANEL_CHARS) !== route.panel)
			return refuse(`the panel name (the MQTT user) must be printable and at most ${MAX_PANEL_CHARS} characters`)
		if (route.kind === 'ack')
			return this.onAck(route.panel, payload, packet, (r) => this.finish(dedupeKey, replyTo, correlation, r, where))
		const feed = route.feed
		const parsed = parseSetPayload(payload)
		if (!parsed.ok) return refuse(parsed.error)
		if (!this.o.feeds.has(feed)) return refuse(`unknown feed ${feed}`)
		const operator = this.operatorOf(parsed.command.operator, packet, route.panel)
		const queue = this.feedQueues.get(feed) ?? Promise.resolve()
		const next = queue.then(async () => {
			let result: CommandResult
			try {
				result = await this.o.handler(feed, parsed.command, operator)
			} catch (err) {
				this.o.log.error({ err, feed }, 'command handler failed')
				result = { ok: false, error: `internal error: ${(err as Error).message}` }
			}
			this.finish(dedupeKey, replyTo, correlation, result, feed)
		})
		this.feedQueues.set(feed, next)
	}

	/** An acknowledgement: answered at once (it waits for nothing); a repeated one changes nothing. */
	private onAck(
		panel: string | null,
		payload: Buffer,
		packet: IPublishPacket,
		done: (r: CommandResult | AckResult) => void,
	): void {
		const parsed = parseAckPayload(payload)
		if (!parsed.ok) return done({ ok: false, error: parsed.error })
		const handler = this.o.ack
		if (!handler) return done({ ok: false, error: 'alarm acknowledgement not available' })
		try {
			done(handler(parsed.command, this.operatorOf(parsed.command.operator, packet, panel), panel))
		} catch (err) {
			this.o.log.error({ err, panel, id: parsed.command.id }, 'alarm acknowledgement failed')
			done({ ok: false, error: `internal error: ${(err as Error).message}` })
		}
	}

	private operatorOf(claim: string | undefined, packet: IPublishPacket, panel: string | null): Operator {
		if (claim) return { name: claim, source: 'payload', via: 'mqtt', panel }
		const fromProp = this.userProperty(packet)
		if (fromProp) return { name: fromProp, source: 'user-property', via: 'mqtt', panel }
		// nobody named: the panel itself is who pressed the button, as far as anyone can tell
		if (panel !== null) return { name: panel, source: 'panel', via: 'mqtt', panel }
		// v1: the <panel> segment of a replies/<panel>/... response topic, a claim kept from v1 (no reply goes there)
		const rt = packet.properties?.responseTopic
		const m = rt?.match(new RegExp(`^${this.base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/replies/([^/]+)/`))
		if (m?.[1]) return { name: m[1], source: 'reply-topic', via: 'mqtt', panel: null }
		return { name: 'unknown', source: 'unknown', via: 'mqtt', panel: null }
	}

	/** a v5 user property `operator`: a claim like the payload's, held to the payload's one printable line of 64 */
	private userProperty(packet: IPublishPacket): string | undefined {
		const up = packet.properties?.userProperties?.['operator']
		const v = Array.isArray(up) ? up[0] : up
		return v ? printable(v, 64) : undefined
	}

	private finish(
		key: string,
		replyTo: string,
		correlation: Buffer | undefined,
		result: CommandResult | AckResult,
		feed: string,
	): void {
		this.handled.set(key, { at: Date.now(), reply: result })
		if (!result.ok) this.o.log.warn({ feed, error: result.error }, 'command refused')
		this.reply(replyTo, correlation, result)
	}

	private reply(topic: string, correlation: Buffer | undefined, result: CommandResult | AckResult | string): void {
		const client = this.client
		if (!client?.connected) return
		client.publish(
			topic,
			typeof result === 'string' ? result : JSON.stringify(result),
			{ qos: 1, retain: false, ...(correlation ? { properties: { correlationData: correlation } } : {}) },
			(err) => {
				if (err) this.o.log.error({ err: err.message, topic }, 'mqtt reply failed')
			},
		)
	}
}
