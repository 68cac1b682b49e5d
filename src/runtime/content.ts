// Content checks of a device that relays a TS (docs/contract.md §10): what the viewer would see and hear, beside what
// the transport says. A ContentSource is the device's SRT source with an ffmpeg analyser (drivers/content) on its
// relay. Its report is the receiver's, made `degraded` while a content condition stands:
//   receiver down or unknown        -> passed on as it is, at once (the analysis never delays or hides a loss)
//   receiver up or degraded, and black / freeze / silence standing  -> degraded, the causes joined
//   otherwise                       -> the receiver's report
// so that the engine (§4) moves a feed only to a healthy path. The analyser only ever adds `degraded`; when it fails
// its conditions are withdrawn and `content-analyser-failed` stands instead, never a content fault.
//
// Alarms (§7), one per device and condition, held while it stands: `black`, `freeze`, `silence`, `ts-errors` (the
// receiver's own TS check, content.tsErrors) and `content-analyser-failed`; each is journaled by the alarm manager,
// so the journal names the cause beside the device's report.
import { EventEmitter } from 'node:events'
import { ContentAnalyser, type ConditionKind } from '../../drivers/content/analyser.ts'
import { udpInput } from '../../drivers/content/ffmpeg.ts'
import { parseUdpUrl } from '../../drivers/srt/codec.ts'
import type { DriverContext, Health, SignalReport } from '../../drivers/types.ts'
import { monotonicMs } from '../clock.ts'
import { alarmId } from '../domain/alarms.ts'
import { analysed, type ResolvedSrtDriver } from '../domain/drivers.ts'
import type { SrtSource } from './adapters.ts'
import type { AlarmManager } from './alarms.ts'
import type { SignalSource, SignalSourceEvents } from './devices.ts'

export type ContentAlarmCode = ConditionKind | 'ts-errors'

export interface ContentNotices {
	/** a content condition of the device began standing or ended (for its alarm) */
	content: [{ code: ContentAlarmCode; active: boolean; message: string; cleared: string }]
	/** the analyser failed (crashed, stuck, cannot start) or decodes again */
	analyser: [{ failed: boolean; message: string; cleared: string }]
}

type Report = { state: SignalReport; at: number; reason?: string }

/** the stream flows to the analyser while the receiver relayed packets in its last stats intervals (at least 2 s) */
const FLOWING_MS = 2000

export class ContentSource extends EventEmitter<SignalSourceEvents> implements SignalSource {
	readonly analyser: ContentAnalyser | null
	/** what the alarms follow (watchContent) */
	readonly notices = new EventEmitter<ContentNotices>()
	private transport: Report | null = null
	private reported: SignalReport | null = null
	private readonly standing = new Map<ConditionKind, { at: number; cause: string }>()
	private tsStanding = false
	private lastRelayedAt = 0

	constructor(
		readonly inner: SrtSource,
		config: ResolvedSrtDriver,
		/** avSync: the analyser also watches for FACS's flash-and-beep pattern */
		ctx: DriverContext & { ffmpeg?: string; avSync?: boolean },
	) {
		super()
		const c = config.content
		if (c && analysed(c) && config.relayTo !== undefined) {
			const relay = parseUdpUrl(config.relayTo)
			this.analyser = new ContentAnalyser(
				{
					input: udpInput(relay.host, relay.port),
					stallMs: c.stallMs ?? 5000,
					flowing: () => monotonicMs() - this.lastRelayedAt < Math.max(FLOWING_MS, 2 * config.statsIntervalMs),
					...(c.black ? { black: c.black } : {}),
					...(c.freeze ? { freeze: c.freeze } : {}),
					...(c.silence ? { silence: c.silence } : {}),
					...(ctx.avSync ? { avSync: true } : {}),
					...(ctx.ffmpeg !== undefined ? { ffmpeg: ctx.ffmpeg } : {}),
				},
				{ log: ctx.log.child({ device: inner.deviceId }) },
			)
			this.analyser.on('condition', (e) => {
				if (e.active) this.standing.set(e.kind, { at: e.at, cause: e.cause })
				else this.standing.delete(e.kind)
				this.notices.emit('content', {
					code: e.kind,
					active: e.active,
					message: this.say(e.kind, e.cause),
					cleared: `${this.deviceId}: ${e.cause}`,
				})
				this.evaluate(e.at)
				this.emit('status')
			})
			this.analyser.on('failed', (f) => {
				const message = `content analyser of ${this.deviceId} failed (${f.failures} in a row), restarting: ${f.reason}`
				this.notices.emit('analyser', { failed: true, message, cleared: '' })
				this.emit('status')
			})
			this.analyser.on('recovered', () => {
				const cleared = `${this.deviceId}: its content analyser decodes again`
				this.notices.emit('analyser', { failed: false, message: cleared, cleared })
				this.emit('status')
			})
		} else this.analyser = null
		inner.on('signal', (r) => {
			this.transport = r
			this.judgeTsErrors()
			this.evaluate(r.at)
		})
		inner.on('synced', () => this.emit('synced'))
		inner.on('status', () => this.emit('status'))
		inner.rx.on('stats', (s) => {
			// every packet received is relayed (the native receive path sends it on before anything else)
			if (s.connections.some((c) => c.pktRecv > 0)) this.lastRelayedAt = s.at
			this.judgeTsErrors()
		})
	}

	get deviceId(): string {
		return this.inner.deviceId
	}

	start(): void {
		this.inner.start()
		this.analyser?.start()
	}

	async stop(): Promise<void> {
		await Promise.all([this.inner.stop(), this.analyser?.stop()])
	}

	isSynced(): boolean {
		return this.inner.isSynced()
	}

	why(): string {
		return this.inner.why()
	}

	/** why the device is degraded now: the receiver's cause and the standing content conditions, or null */
	cause(): string | null {
		const causes: string[] = []
		const rx = this.inner.rx.degradedCause
		if (rx !== null) causes.push(rx)
		if (this.transport?.state === 'up' || this.transport?.state === 'degraded')
			for (const s of this.analyser?.standing() ?? []) causes.push(`${s.kind}: ${s.lastedS.toFixed(1)} s`)
		return causes.length > 0 ? causes.join('; ') : null
	}

	status(): { connected: boolean; health: Health; detail: Record<string, unknown> } {
		const s = this.inner.status()
		const a = this.analyser
		const health: Health = s.health === 'ok' && this.reported === 'degraded' ? 'degraded' : s.health
		const cause = this.cause()
		return {
			connected: s.connected,
			health,
			detail: {
				...s.detail,
				...(cause !== null ? { degraded: cause } : {}),
				...(a
					? {
							content: {
								analyser: a.state,
								...(a.failure ? { failed: a.failure.reason } : {}),
								standing: a.standing(),
								video: a.streams.video,
								audio: a.streams.audio,
							},
						}
					: {}),
			},
		}
	}

	private evaluate(at: number): void {
		const t = this.transport
		if (!t) return // no report from the receiver yet: content alone is no signal
		const flowing = t.state === 'up' || t.state === 'degraded'
		const content = flowing ? [...this.standing.values()] : []
		let out: Report
		if (content.length === 0) out = t
		else {
			const causes = [...(t.state === 'degraded' && t.reason ? [t.reason] : []), ...content.map((c) => c.cause)]
			out = { state: 'degraded', at: Math.max(at, t.at), reason: causes.join('; ') }
		}
		if (out.state === this.reported) return // repeating a report changes nothing (§4)
		this.reported = out.state
		this.emit('signal', out)
	}

	/** the receiver's own TS check (content.tsErrors): its alarm stands while the receiver is degraded by it */
	private judgeTsErrors(): void {
		const cause = this.inner.rx.degradedCause
		const ts = cause?.split('; ').find((c) => c.startsWith('ts-errors')) ?? null
		if ((ts !== null) === this.tsStanding) return
		this.tsStanding = ts !== null
		this.notices.emit('content', {
			code: 'ts-errors',
			active: this.tsStanding,
			message: `${this.deviceId}: ${ts ?? 'ts-errors ended'}`,
			cleared: `${this.deviceId}: ts-errors ended`,
		})
	}

	/** the alarm's message while the condition stands */
	private say(kind: ConditionKind, cause: string): string {
		const what = { black: 'the picture is black', freeze: 'the picture is frozen', silence: 'the sound is silent' }
		return `${this.deviceId}: ${cause} (${what[kind]}; the device reports degraded)`
	}
}

/** Each content source's alarms through the alarm manager (one id per device and condition). */
export function watchContent(sources: readonly SignalSource[], alarms: AlarmManager): void {
	for (const s of sources) {
		if (!(s instanceof ContentSource)) continue
		const device = s.deviceId
		s.notices.on('content', (e) => alarms.hold({ id: alarmId.device(e.code, device), device, ...e }))
		s.notices.on('analyser', (e) => {
			const code = 'content-analyser-failed'
			alarms.hold({
				id: alarmId.device(code, device),
				code,
				device,
				active: e.failed,
				message: e.message,
				cleared: e.cleared,
			})
		})
	}
}
