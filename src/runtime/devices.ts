// What the runtime needs of a signal device driver (SNMP gateways and IRDs, SRT receivers): its reports and its
// freshness. Drivers know nothing of feeds; the runtime maps a device's reports onto the paths that list it in `via`.
import type { EventEmitter } from 'node:events'
import type { Freshness, Health, SignalReport } from '../../drivers/types.ts'

export interface SignalSourceEvents {
	/** a report about the video: `at` is the monotonic ms instant the condition began (a stream's last packet) */
	signal: [{ state: SignalReport; at: number; reason?: string }]
	/** the first full read since start (for readiness and the first publication) */
	synced: []
	/** something in status() changed (connection, freshness, detail) */
	status: []
}

export interface SignalSource extends EventEmitter<SignalSourceEvents> {
	readonly deviceId: string
	start(): void
	stop(): Promise<void>
	isSynced(): boolean
	/** why it has not completed its first sync (for /readyz and device-stale); default: no answer yet */
	why?(): string
	status(): { connected: boolean; health: Health; detail: Record<string, unknown> }
	/** its control link's freshness (the shared tracker's), where it has one: device-stale is judged on it */
	freshness?(): Freshness
}
