// FACS over MQTT (docs/contract.md §10): a panel publishes `{ "feed"?, "operator"? }` (or nothing) to
// `sigpath/<site>/panels/<panel>/events/<event>/facs`; the tour's state and then its report are retained on
// `sigpath/<site>/events/<event>/facs` (`{ "state": "running", ... }`, then `{ "state": "done", "report": {...} }`),
// and the panel gets a reply: `{ "ok": true, "pass", "failed" }` once the tour ended, or `{ "ok": false, "error" }`
// at once for a bad payload or a refusal. The reply goes to the v5 response topic when it is in the panel's own
// space (`sigpath/<site>/replies/<panel>/...`), else to `<command topic>/result`: never to a topic of another's
// (replyTarget, as for a `set`). A pair's standby does not answer: the MQTT client drops commands there (§9).
import type { Logger } from 'pino'
import { replyTarget, type MqttControl } from '../control/mqtt.ts'
import { parseFacsPayload } from './payload.ts'
import type { FacsRunner } from './tour.ts'

type Control = Pick<MqttControl, 'base' | 'handle' | 'publishRetained' | 'publishReply'>

export function facsOverMqtt(control: Control | undefined, runner: FacsRunner, log: Logger): void {
	if (!control) return
	const base = control.base
	control.handle(`${base}/panels/+/events/+/facs`, (topic, payload, props) => {
		const [, , , panel, , event] = topic.split('/') as [string, string, string, string, string, string]
		// the panel's own reply space, as for its `set` (docs/contract.md §5a)
		const replyTo = replyTarget(base, topic, panel, props.responseTopic).topic
		const reply = (body: unknown): void => control.publishReply(replyTo, JSON.stringify(body), props.correlationData)
		const cmd = parseFacsPayload(payload)
		if (!cmd.ok) return reply({ ok: false, error: cmd.error })
		const operator = cmd.operator ?? panel
		runner
			.run({ event, feed: cmd.feed, operator, via: `mqtt:${panel}` })
			.then((r) => {
				if (!r.ok) return reply({ ok: false, error: r.error })
				reply({ ok: true, pass: r.report.pass, failed: r.report.failed })
			})
			.catch((err: unknown) => {
				log.error({ err, event }, 'FACS over MQTT failed')
				reply({ ok: false, error: `internal error: ${(err as Error).message}` })
			})
	})
	runner.events.on('started', (s) =>
		control.publishRetained(`${base}/events/${s.event}/facs`, JSON.stringify({ state: 'running', ...s })),
	)
	runner.events.on('report', (r) =>
		control.publishRetained(`${base}/events/${r.event}/facs`, JSON.stringify({ state: 'done', report: r })),
	)
}
