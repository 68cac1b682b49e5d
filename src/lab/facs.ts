// FACS in the lab: the console's `facs EVENT [FEED]` and the demo's tour after its failover. The tour is the
// daemon's own (src/facs/tour.ts), on the QC output config/lab.yaml names; the report is printed as `sigpath facs`
// prints it. The lab's venue senders are simulated SRT streams, not pictures: the report shows the takes, the signal,
// the SRT figures, and why delay and A/V could not be measured on them.
import type { CliIo } from '../cli/io.ts'
import { reportTable } from '../facs/report.ts'
import type { Daemon } from '../runtime/daemon.ts'

export async function labFacs(
	daemon: Daemon,
	event: string | undefined,
	feed: string | undefined,
	io: CliIo,
): Promise<void> {
	if (event === undefined) {
		const with_ = daemon.model.config.events.filter((e) => e.facs?.qcOutput || e.feeds.some((f) => f.facs?.qcOutput))
		io.out(`? facs EVENT [FEED]   events with a QC output: ${with_.map((e) => e.id).join(', ') || 'none'}\n`)
		return
	}
	const started = (): void =>
		io.out(
			`${new Date().toISOString().slice(11, 19)} FACS ${event}${feed ? `/${feed}` : ''}: touring its paths on the QC output...\n`,
		)
	daemon.facs.events.once('started', started)
	const r = await daemon.facs.run({ event, feed, operator: 'lab', via: 'lab' })
	daemon.facs.events.off('started', started)
	io.out(r.ok ? reportTable(r.report) : `! FACS refused: ${r.error}\n`)
}
