// `sigpath probe FILE DEVICE --seconds N` for an SRT device (docs/contract.md §1): receive for N seconds, then print the
// connections (peer, streamId, rttMs, packetsReceived, packetsLost, packetsDropped, mbps) and the rejections
// (peer, reason). A listener is reachable once bound, with or without connections; a caller once connected.
// The probe never relays: a second copy of the stream must not reach the gateway while the daemon also feeds it.
import type { Device } from '../../src/domain/config.ts'
import type { Resolved } from '../../src/domain/primitives.ts'
import { driverOf } from '../common/probe.ts'
import { DriverUnavailableError, type ProbeOptions, type ProbeResult } from '../types.ts'
import { monotonicMs } from '../../src/clock.ts'
import { SrtReceiver, type ConnectionSummary } from './connection.ts'

export interface SrtProbeConnection {
	peer: string
	streamId: string
	rttMs: number
	packetsReceived: number
	packetsLost: number
	packetsDropped: number
	/** mean receive rate while connected during the probe, Mbit/s */
	mbps: number
}

export function summarize(c: ConnectionSummary, now: number): SrtProbeConnection {
	const seconds = ((c.disconnectedAt ?? now) - c.connectedAt) / 1000
	return {
		peer: c.peer,
		streamId: c.streamId,
		rttMs: round(c.rttMs, 3),
		packetsReceived: c.packetsReceived,
		packetsLost: c.packetsLost,
		packetsDropped: c.packetsDropped,
		mbps: seconds > 0 ? round((c.bytesReceived * 8) / 1e6 / seconds, 3) : 0,
	}
}

function round(v: number, digits: number): number {
	const f = 10 ** digits
	return Math.round(v * f) / f
}

export async function probe(device: Resolved<Device>, options: ProbeOptions): Promise<ProbeResult> {
	const driver = driverOf(device, 'srt')
	const { relayTo: _relayTo, ...config } = driver
	const receiver = new SrtReceiver(config, options.ctx, { backoffMs: { base: 250, max: 1000 } })
	let reachable = false
	let error: string | undefined
	receiver.on('state', (s) => {
		if (s === 'listening' || s === 'connected') reachable = true
	})
	receiver.on('retrying', ({ error: e }) => {
		error = e.message
	})
	try {
		await receiver.start()
	} catch (err) {
		// no binding: nothing about this device is known, and the caller says so in one line (not as its state)
		if (err instanceof DriverUnavailableError) {
			receiver.stop()
			throw err
		}
		error = (err as Error).message
	}
	// A listener that cannot bind is not reachable: no point watching. A caller keeps trying for the whole window.
	if (driver.mode === 'caller' || reachable) await new Promise((r) => setTimeout(r, options.seconds * 1000))
	// The stats tick may not have run since the last packets: the totals come from the final stats at stop.
	const health = receiver.health
	const signal = receiver.signal
	const ts = receiver.tsCheck
	receiver.stop()
	const now = monotonicMs()
	const detail: Record<string, unknown> = {
		mode: driver.mode,
		connections: receiver.connections().map((c) => summarize(c, now)),
		rejected: receiver.rejections().map((r) => ({ peer: r.peer, reason: r.reason, streamId: r.streamId })),
		signal: signal?.signal ?? null,
		// why (a degraded signal's `loss ...` or `ts-errors: ...`), and the last interval's transport stream check
		cause: signal?.cause ?? null,
	}
	if (ts) detail['ts'] = { ...ts.counts, cause: ts.cause }
	if (error !== undefined && !reachable) detail['error'] = error
	return { device: device.id, connected: reachable, health: reachable ? health : 'down', detail }
}
