// The analyser's ffmpeg command line: read the relayed TS from UDP, decode the first video and the first audio
// stream, run ffmpeg's own detectors and discard the result (-f null). Nothing here is our own detector: what is
// judged black, frozen or silent is ffmpeg's blackdetect, freezedetect and silencedetect with the config's
// thresholds; our part is how long a condition stands (ms) and what it means for the signal.
//
// Video chain, in order (each line of its log is parsed by parse.ts):
//   scale=320:-2          the detectors judge a small picture: a whole SD or HD frame is not needed to tell black
//                         or still, and it keeps the filters' cost per stream small (the decode remains)
//   blackdetect d=0, metadata@black print of lavfi.black_start (the onset; blackdetect itself logs only the end)
//   freezedetect d=ms     logs freeze_start once the picture has been still for ms
//   negate, blackframe@flash   (avSync) a white frame of the flash-and-beep pattern is a black one once negated
//   select 10/s, metadata@pts  the PTS sampler: the stream clock of the standing times, and FACS's delay by PTS
// Audio chain: silencedetect d=ms; (avSync) 5 ms blocks whose RMS is above -40 dBFS, printed: the beep's onset.
//
// -copyts keeps the stream's own PTS, so that two analysers of one encode compare (FACS delay). -threads 1 and
// -filter_threads 1 bound one analyser to one core at most.

export interface AnalyserChecks {
	black?: { ms: number; pictureRatio: number; pixelThreshold: number }
	freeze?: { ms: number; noiseDb: number }
	silence?: { ms: number; dbfs: number }
	/** detect the flash-and-beep test pattern (white frame, 1 kHz beep) for FACS's A/V offset */
	avSync?: boolean
}

/** the PTS sampler's period, s */
export const SAMPLE_PERIOD_S = 0.1
/** the beep detector's block, samples (5 ms at 48 kHz) and level, dBFS RMS */
export const BEEP_BLOCK = 240
export const BEEP_DBFS = -40

/** The input URL of a UDP relay target: ffmpeg's UDP reader, tolerant of a full buffer (it drops, never exits). */
export function udpInput(host: string, port: number): string {
	const h = host.includes(':') ? `[${host}]` : host
	return `udp://${h}:${port}?overrun_nonfatal=1&fifo_size=262144&buffer_size=4194304`
}

const secs = (ms: number): string => (ms / 1000).toFixed(3)

export function videoChain(c: AnalyserChecks): string {
	const f = ['scale=320:-2']
	if (c.black)
		f.push(
			`blackdetect=d=0:pic_th=${c.black.pictureRatio}:pix_th=${c.black.pixelThreshold}`,
			'metadata@black=mode=print:key=lavfi.black_start',
		)
	if (c.freeze) f.push(`freezedetect=n=${c.freeze.noiseDb}dB:d=${secs(c.freeze.ms)}`)
	if (c.avSync) f.push('negate', 'blackframe@flash=amount=98:threshold=32')
	f.push(
		`select=isnan(prev_selected_t)+gte(t-prev_selected_t\\,${SAMPLE_PERIOD_S})`,
		'metadata=mode=add:key=pts:value=1',
		'metadata@pts=mode=print:key=pts',
	)
	return f.join(',')
}

/** The audio chain, or null when no audio check needs the sound decoded. */
export function audioChain(c: AnalyserChecks): string | null {
	const f: string[] = []
	if (c.silence) f.push(`silencedetect=n=${c.silence.dbfs}dB:d=${secs(c.silence.ms)}`)
	if (c.avSync)
		f.push(
			`asetnsamples=n=${BEEP_BLOCK}:p=0`,
			'astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=RMS_level',
			`ametadata@beep=mode=print:key=lavfi.astats.Overall.RMS_level:value=${BEEP_DBFS}:function=greater`,
		)
	return f.length > 0 ? f.join(',') : null
}

export function analyserArgs(input: string, c: AnalyserChecks): string[] {
	const audio = audioChain(c)
	return [
		...['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info'],
		...['-threads', '1', '-filter_threads', '1', '-copyts'],
		...['-probesize', '1000000', '-analyzeduration', '2000000'],
		...['-f', 'mpegts', '-i', input],
		...['-map', '0:v:0?', '-vf', videoChain(c)],
		...(audio !== null ? ['-map', '0:a:0?', '-af', audio] : []),
		...['-f', 'null', '-'],
		...['-progress', 'pipe:1', '-stats_period', '0.5'],
	]
}
